// A firmware developer's own top level: their device next to the irqforge
// platform (the co-simulation harness irqforge_cosim, which instantiates the
// generated irqforge_platform). The harness's command, INTA and CPU-pin ports
// are left unconnected: the cocotb test's CocotbMachine drives them.
//
// The device is a periodic timer: every TICK_PERIOD cycles it raises its
// interrupt line (IO-APIC pin DEVICE_PIN, edge) for TICK_WIDTH cycles.
`default_nettype none

module firmware_top #(
    parameter integer TICK_PERIOD = 3000,
    parameter integer TICK_WIDTH = 4,
    parameter integer DEVICE_PIN = 9
) (
    // The ports the cocotb test touches are public (the build is not --public-flat-rw).
    input  wire        clk /*verilator public_flat_rw*/,
    input  wire        rst /*verilator public_flat_rw*/,
    input  wire [23:0] host_irq /*verilator public_flat_rw*/,   // lines the test drives (machine.set_irq)
    output wire        tick_irq    // the device's interrupt line
);
    reg [15:0] count;

    always @(posedge clk) begin
        if (rst || count == 16'(TICK_PERIOD - 1)) count <= 16'd0;
        else count <= count + 16'd1;
    end

    assign tick_irq = !rst && count >= 16'(TICK_PERIOD - TICK_WIDTH);

    wire [23:0] device_lines = {23'd0, tick_irq} << DEVICE_PIN;

    // The unconnected ports are the machine's (driven and read by cocotb).
    /* verilator lint_off PINMISSING */
    irqforge_cosim platform (
        .clk(clk),
        .rst(rst),
        .irq(host_irq | device_lines)
    );
    /* verilator lint_on PINMISSING */
endmodule

`default_nettype wire
