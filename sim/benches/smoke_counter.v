// irqforge simulator smoke test: a free-running counter with enable.
// Hand-written (not generated) so that tests/test_toolchain.py can prove the
// cocotb runner works on each simulator without depending on the RTL.
module smoke_counter #(
    parameter integer WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst,
    input  wire             en,
    output reg  [WIDTH-1:0] count
);
    always @(posedge clk) begin
        if (rst)
            count <= {WIDTH{1'b0}};
        else if (en)
            count <= count + 1'b1;
    end
endmodule
