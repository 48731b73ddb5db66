"""The architecture written down a second time, by hand, from the documents.

Nothing here is computed from irqforge: every number is a literal copied from
the document named next to it, so that a mistake in ``spec/default/*.yaml``
(a swapped bit, a narrowed field, a wrong reset, offset, access type or
enumerated value) makes ``test_default_specs_match_the_documents.py`` fail
even though the RTL, the models and the software stack, which all read the
same spec, still agree with each other.

Sources:

SDM
    Intel 64 and IA-32 Architectures Software Developer's Manual, vol. 3A,
    ch. 6 (interrupt and exception handling: Table 6-1, Figure 6-8 "64-bit
    IDT gate descriptors") and ch. 11 (APIC: Table 11-1 "Local APIC Register
    Address Map", Figures 11-5 LVR, 11-8 LVT, 11-9 ESR, 11-10 TDCR,
    11-12 ICR, 11-13 LDR, 11-14 DFR, 11-18 TPR, 11-19 PPR, 11-23 SVR).
82093AA
    Intel 82093AA I/O Advanced Programmable Interrupt Controller datasheet,
    §3.2 (IOREGSEL, IOWIN), §3.2.1 IOAPICID, §3.2.2 IOAPICVER,
    §3.2.3 IOAPICARB, §3.2.4 IOREDTBL[23:0].
HPET
    IA-PC HPET (High Precision Event Timers) Specification 1.0a, §2.3
    (Table 2 register map, 2.3.4 GCAP_ID, 2.3.5 GEN_CONF, 2.3.6 GINTR_STA,
    2.3.7 MAIN_CNT, 2.3.8 Tn_CONF_CAP, 2.3.9 Tn_COMPARATOR, 2.3.10 Tn_FSB_ROUTE).
Linux
    arch/x86/include/asm/{apicdef.h, io_apic.h, hpet.h, irq_vectors.h,
    trapnr.h, desc_defs.h, page_64_types.h, segment.h}, arch/x86/kernel/idt.c.

Where irqforge picks one of several legal values (the IO-APIC version 0x20,
the HPET's three timers at 100 ns, its route capability) the literal is the
value the project documents in README.md and docs/, with the source that
allows it.

Field tuples are ``(msb, lsb, access, reset, {enumerated name: value})``;
register tuples ``(offset, width, access, count, stride, {field: ...})``.
Access words are those of the README ("ro rw wo w1c rc wl rsvd").
"""

from __future__ import annotations

FieldLit = tuple[int, int, str, int, dict[str, int]]
RegLit = tuple[int, int, str, int, int, dict[str, FieldLit]]

# --------------------------------------------------------------------------- Local APIC

# SDM Figure 11-12 (ICR) / Linux apicdef.h APIC_DM_*: 000 fixed, 001 lowest
# priority, 010 SMI, 100 NMI, 101 INIT, 110 start-up, 111 ExtINT (011 reserved).
ICR_DELIVERY_MODES = {"FIXED": 0, "LOWEST": 1, "SMI": 2, "NMI": 4, "INIT": 5, "STARTUP": 6, "EXTINT": 7}
# SDM Figure 11-8 (LVT): 000 fixed, 010 SMI, 100 NMI, 101 INIT, 111 ExtINT;
# "all other combinations are reserved" (no lowest priority, no start-up).
LVT_DELIVERY_MODES = {"FIXED": 0, "SMI": 2, "NMI": 4, "INIT": 5, "EXTINT": 7}
EDGE_LEVEL = {"EDGE": 0, "LEVEL": 1}  # SDM Figures 11-8, 11-12: trigger mode 0 edge, 1 level
PHYS_LOGICAL = {"PHYSICAL": 0, "LOGICAL": 1}  # SDM Figure 11-12: destination mode 0 physical, 1 logical

_LVT_VECTOR: FieldLit = (7, 0, "rw", 0, {})  # SDM Figure 11-8
_LVT_STATUS: FieldLit = (12, 12, "ro", 0, {})  # SDM Figure 11-8: delivery status, read only
_LVT_MASK: FieldLit = (16, 16, "rw", 1, {})  # SDM Figure 11-8: value after reset 0001 0000H
_LVT_DM: FieldLit = (10, 8, "rw", 0, LVT_DELIVERY_MODES)
_LINT = {  # SDM Figure 11-8, LINT0/LINT1 entries
    "VECTOR": _LVT_VECTOR,
    "DELIVERY_MODE": _LVT_DM,
    "DELIVERY_STATUS": _LVT_STATUS,
    "POLARITY": (13, 13, "rw", 0, {}),  # interrupt input pin polarity
    "REMOTE_IRR": (14, 14, "ro", 0, {}),  # remote IRR flag, read only
    "TRIGGER": (15, 15, "rw", 0, EDGE_LEVEL),
    "MASK": _LVT_MASK,
}

LAPIC: dict[str, RegLit] = {
    # SDM Table 11-1 offsets (FEE0 0xxxH); Linux apicdef.h APIC_* offsets in the comments
    "ID": (0x020, 32, "rw", 1, 0, {"ID": (31, 24, "rw", 0, {})}),  # APIC_ID; SDM Figure 11-6: bits 31:24
    "VERSION": (
        0x030,
        32,
        "ro",
        1,
        0,
        {  # APIC_LVR; SDM Figure 11-7
            "VERSION": (7, 0, "ro", 0x14, {}),  # integrated APIC 0x1X; 0x14 as QEMU, KVM and Bochs report
            "MAX_LVT": (23, 16, "ro", 5, {}),  # six LVT entries: timer, thermal, perfmon, LINT0, LINT1, error
            "EOI_SUPPRESS": (24, 24, "ro", 1, {}),  # support for EOI-broadcast suppression
        },
    ),
    "TPR": (0x080, 32, "rw", 1, 0, {"TPR": (7, 0, "rw", 0, {})}),  # APIC_TASKPRI; SDM Figure 11-18
    "APR": (0x090, 32, "ro", 1, 0, {"APR": (7, 0, "ro", 0, {})}),  # APIC_ARBPRI
    "PPR": (0x0A0, 32, "ro", 1, 0, {"PPR": (7, 0, "ro", 0, {})}),  # APIC_PROCPRI; SDM Figure 11-19
    "EOI": (0x0B0, 32, "wo", 1, 0, {}),  # APIC_EOI; SDM Table 11-1: write only
    "RRD": (0x0C0, 32, "ro", 1, 0, {}),  # APIC_RRR; SDM Table 11-1: remote read, read only
    "LDR": (0x0D0, 32, "rw", 1, 0, {"LOGICAL_ID": (31, 24, "rw", 0, {})}),  # APIC_LDR; SDM Figure 11-13
    "DFR": (
        0x0E0,
        32,
        "rw",
        1,
        0,
        {  # APIC_DFR; SDM Figure 11-14, reset FFFF FFFFH
            "MODEL": (31, 28, "rw", 0xF, {"CLUSTER": 0x0, "FLAT": 0xF}),  # Linux APIC_DFR_CLUSTER/_FLAT
            "ONES": (27, 0, "ro", 0x0FFFFFFF, {}),  # reserved, all 1s
        },
    ),
    "SVR": (
        0x0F0,
        32,
        "rw",
        1,
        0,
        {  # APIC_SPIV; SDM Figure 11-23, reset 0000 00FFH
            "VECTOR": (7, 0, "rw", 0xFF, {}),
            "ENABLE": (8, 8, "rw", 0, {}),  # APIC_SPIV_APIC_ENABLED (1 << 8)
            "FOCUS_DISABLE": (9, 9, "rw", 0, {}),  # APIC_SPIV_FOCUS_DISABLED (1 << 9)
            "EOI_SUPPRESS": (12, 12, "rw", 0, {}),  # APIC_SPIV_DIRECTED_EOI (1 << 12)
        },
    ),
    "ISR": (0x100, 32, "ro", 8, 0x10, {}),  # APIC_ISR; SDM Table 11-1: 0100H..0170H, read only
    "TMR": (0x180, 32, "ro", 8, 0x10, {}),  # APIC_TMR; 0180H..01F0H
    "IRR": (0x200, 32, "ro", 8, 0x10, {}),  # APIC_IRR; 0200H..0270H
    "ESR": (
        0x280,
        32,
        "wl",
        1,
        0,
        {  # APIC_ESR; SDM Figure 11-9, Linux APIC_ESR_*
            "SEND_CS": (0, 0, "wl", 0, {}),  # APIC_ESR_SEND_CS 0x00001
            "RECV_CS": (1, 1, "wl", 0, {}),  # APIC_ESR_RECV_CS 0x00002
            "SEND_ACCEPT": (2, 2, "wl", 0, {}),  # APIC_ESR_SEND_ACC 0x00004
            "RECV_ACCEPT": (3, 3, "wl", 0, {}),  # APIC_ESR_RECV_ACC 0x00008
            "REDIRECTABLE_IPI": (4, 4, "wl", 0, {}),  # SDM: redirectable IPI
            "SEND_ILLEGAL_VECTOR": (5, 5, "wl", 0, {}),  # APIC_ESR_SENDILL 0x00020
            "RECV_ILLEGAL_VECTOR": (6, 6, "wl", 0, {}),  # APIC_ESR_RECVILL 0x00040
            "ILLEGAL_REG_ADDR": (7, 7, "wl", 0, {}),  # APIC_ESR_ILLREGA 0x00080
        },
    ),
    "ICR_LO": (
        0x300,
        32,
        "rw",
        1,
        0,
        {  # APIC_ICR; SDM Figure 11-12
            "VECTOR": (7, 0, "rw", 0, {}),
            "DELIVERY_MODE": (10, 8, "rw", 0, ICR_DELIVERY_MODES),
            "DEST_MODE": (11, 11, "rw", 0, PHYS_LOGICAL),  # APIC_DEST_LOGICAL 0x00800
            "DELIVERY_STATUS": (12, 12, "ro", 0, {}),  # APIC_ICR_BUSY 0x01000
            "LEVEL": (14, 14, "rw", 0, {}),  # APIC_INT_ASSERT 0x04000
            "TRIGGER": (15, 15, "rw", 0, EDGE_LEVEL),  # APIC_INT_LEVELTRIG 0x08000
            # APIC_DEST_SELF 0x40000, APIC_DEST_ALLINC 0x80000, APIC_DEST_ALLBUT 0xC0000
            "SHORTHAND": (19, 18, "rw", 0, {"NONE": 0, "SELF": 1, "ALL_INCL": 2, "ALL_EXCL": 3}),
        },
    ),
    # APIC_ICR2; SDM Figure 11-12: destination field bits 63:56 of the ICR = 31:24 of ICR2
    "ICR_HI": (0x310, 32, "rw", 1, 0, {"DEST": (31, 24, "rw", 0, {})}),
    "LVT_TIMER": (
        0x320,
        32,
        "rw",
        1,
        0,
        {  # APIC_LVTT; SDM Figure 11-8
            "VECTOR": _LVT_VECTOR,
            "DELIVERY_STATUS": _LVT_STATUS,
            "MASK": _LVT_MASK,
            # 00 one-shot, 01 periodic, 10 TSC-deadline (Linux APIC_LVT_TIMER_PERIODIC 1 << 17,
            # APIC_LVT_TIMER_TSCDEADLINE 2 << 17)
            "TIMER_MODE": (18, 17, "rw", 0, {"ONESHOT": 0, "PERIODIC": 1, "TSC_DEADLINE": 2}),
        },
    ),
    "LVT_THERMAL": (
        0x330,
        32,
        "rw",
        1,
        0,
        {  # APIC_LVTTHMR
            "VECTOR": _LVT_VECTOR,
            "DELIVERY_MODE": _LVT_DM,
            "DELIVERY_STATUS": _LVT_STATUS,
            "MASK": _LVT_MASK,
        },
    ),
    "LVT_PERFMON": (
        0x340,
        32,
        "rw",
        1,
        0,
        {  # APIC_LVTPC
            "VECTOR": _LVT_VECTOR,
            "DELIVERY_MODE": _LVT_DM,
            "DELIVERY_STATUS": _LVT_STATUS,
            "MASK": _LVT_MASK,
        },
    ),
    "LVT_LINT0": (0x350, 32, "rw", 1, 0, _LINT),  # APIC_LVT0
    "LVT_LINT1": (0x360, 32, "rw", 1, 0, _LINT),  # APIC_LVT1
    "LVT_ERROR": (
        0x370,
        32,
        "rw",
        1,
        0,
        {  # APIC_LVTERR
            "VECTOR": _LVT_VECTOR,
            "DELIVERY_STATUS": _LVT_STATUS,
            "MASK": _LVT_MASK,
        },
    ),
    "TMICT": (0x380, 32, "rw", 1, 0, {"COUNT": (31, 0, "rw", 0, {})}),  # APIC_TMICT; SDM Figure 11-11
    "TMCCT": (0x390, 32, "ro", 1, 0, {"COUNT": (31, 0, "ro", 0, {})}),  # APIC_TMCCT; read only
    "TDCR": (
        0x3E0,
        32,
        "rw",
        1,
        0,
        {  # APIC_TDCR; SDM Figure 11-10: bits 0, 1 and 3 (bit 2 is 0)
            "DIV_LO": (1, 0, "rw", 0, {}),
            "DIV_HI": (3, 3, "rw", 0, {}),
        },
    ),
}
LAPIC_SIZE = 0x1000  # SDM §11.4.1: a 4-KByte region at FEE0 0000H
LAPIC_PARAMS = {"version": 0x14, "lvt_count": 6, "eoi_suppression": 1, "tsc_deadline": 1}

# Linux apicdef.h constants, spelled as the kernel spells them; the test builds
# each from the spec's fields and compares.
LINUX_APIC = {
    "APIC_SPIV_APIC_ENABLED": 1 << 8,
    "APIC_SPIV_FOCUS_DISABLED": 1 << 9,
    "APIC_SPIV_DIRECTED_EOI": 1 << 12,
    "APIC_DEST_LOGICAL": 0x00800,
    "APIC_ICR_BUSY": 0x01000,
    "APIC_INT_ASSERT": 0x04000,
    "APIC_INT_LEVELTRIG": 0x08000,
    "APIC_DEST_SELF": 0x40000,
    "APIC_DEST_ALLINC": 0x80000,
    "APIC_DEST_ALLBUT": 0xC0000,
    "APIC_DM_LOWEST": 0x00100,
    "APIC_DM_SMI": 0x00200,
    "APIC_DM_NMI": 0x00400,
    "APIC_DM_INIT": 0x00500,
    "APIC_DM_STARTUP": 0x00600,
    "APIC_DM_EXTINT": 0x00700,
    "APIC_LVT_MASKED": 1 << 16,
    "APIC_LVT_TIMER_PERIODIC": 1 << 17,
    "APIC_LVT_TIMER_TSCDEADLINE": 2 << 17,
    "APIC_LVT_LEVEL_TRIGGER": 1 << 15,
    "APIC_LVT_REMOTE_IRR": 1 << 14,
    "APIC_INPUT_POLARITY": 1 << 13,
    "APIC_SEND_PENDING": 1 << 12,
    "APIC_DFR_FLAT": 0xFFFFFFFF,
    "APIC_DFR_CLUSTER": 0x0FFFFFFF,
    "APIC_ESR_SEND_CS": 0x00001,
    "APIC_ESR_RECV_CS": 0x00002,
    "APIC_ESR_SEND_ACC": 0x00004,
    "APIC_ESR_RECV_ACC": 0x00008,
    "APIC_ESR_SENDILL": 0x00020,
    "APIC_ESR_RECVILL": 0x00040,
    "APIC_ESR_ILLREGA": 0x00080,
    "APIC_TDR_DIV_1": 0xB,
    "APIC_TDR_DIV_2": 0x0,
    "APIC_TDR_DIV_16": 0x3,
    "APIC_TDR_DIV_128": 0xA,
    "SET_XAPIC_DEST_FIELD_0xAB": 0xAB << 24,  # SET_XAPIC_DEST_FIELD(x) ((x) << 24)
    "SET_XAPIC_LOGICAL_ID_0x5A": 0x5A << 24,  # SET_APIC_LOGICAL_ID(x) ((x) << 24)
}
# SDM §11.4.7.1 / Table 11-1 "value after reset": registers whose whole dword has a documented reset
LAPIC_RESETS = {
    "VERSION": 0x01050014,  # QEMU and Bochs 0x00050014, plus bit 24 (EOI-broadcast suppression)
    "DFR": 0xFFFFFFFF,
    "SVR": 0x000000FF,
    "LVT_TIMER": 0x00010000,
    "LVT_THERMAL": 0x00010000,
    "LVT_PERFMON": 0x00010000,
    "LVT_LINT0": 0x00010000,
    "LVT_LINT1": 0x00010000,
    "LVT_ERROR": 0x00010000,
    "TPR": 0,
    "LDR": 0,
    "ICR_LO": 0,
    "ICR_HI": 0,
    "TMICT": 0,
    "TMCCT": 0,
    "TDCR": 0,
    "ESR": 0,
}
# What a write of all ones leaves in each LVT with the APIC enabled (the
# x86 reference's ARCH column: writable bits only, read-only bits excluded).
LVT_WRITABLE = {
    "LVT_TIMER": 0x000700FF,
    "LVT_THERMAL": 0x000107FF,
    "LVT_PERFMON": 0x000107FF,
    "LVT_LINT0": 0x0001A7FF,
    "LVT_LINT1": 0x0001A7FF,
    "LVT_ERROR": 0x000100FF,
}

# --------------------------------------------------------------------------- IO-APIC

IOAPIC: dict[str, RegLit] = {
    # 82093AA §3.1 Table 1 memory-mapped registers;
    # Linux io_apic.c struct io_apic {index; unused[3]; data; unused[11]; eoi}
    "IOREGSEL": (0x00, 32, "rw", 1, 0, {"INDEX": (7, 0, "rw", 0, {})}),  # 8-bit register address
    "IOWIN": (0x10, 32, "rw", 1, 0, {}),
    "EOI": (0x40, 32, "wo", 1, 0, {"VECTOR": (7, 0, "wo", 0, {})}),  # Linux: eoi at 0x40 (version >= 0x20)
}
IOAPIC_WINDOW: dict[str, RegLit] = {  # (index, ...) in the IOREGSEL/IOWIN window
    "IOAPICID": (0x00, 32, "rw", 1, 0, {"ID": (27, 24, "rw", 0, {})}),  # 82093AA §3.2.1: bits 27:24 R/W
    "IOAPICVER": (
        0x01,
        32,
        "ro",
        1,
        0,
        {  # 82093AA §3.2.2
            "VERSION": (7, 0, "ro", 0x20, {}),  # Linux io_apic.c: version >= 0x20 has the EOI register
            "PRQ": (15, 15, "ro", 0, {}),
            "MAX_REDIR": (23, 16, "ro", 23, {}),  # 82093AA: 17h = 24 entries
        },
    ),
    "IOAPICARB": (0x02, 32, "ro", 1, 0, {"ARB_ID": (27, 24, "ro", 0, {})}),  # 82093AA §3.2.3: bits 27:24 RO
    "REDTBL": (
        0x10,
        64,
        "rw",
        24,
        2,
        {  # 82093AA §3.2.4: IOREDTBL[23:0] at 10h-3Fh, two indices each
            "VECTOR": (7, 0, "rw", 0, {}),
            # 000 fixed, 001 lowest priority, 010 SMI, 100 NMI, 101 INIT, 111 ExtINT (011 and 110 reserved)
            "DELIVERY_MODE": (10, 8, "rw", 0, {"FIXED": 0, "LOWEST": 1, "SMI": 2, "NMI": 4, "INIT": 5, "EXTINT": 7}),
            "DEST_MODE": (11, 11, "rw", 0, PHYS_LOGICAL),
            "DELIVERY_STATUS": (12, 12, "ro", 0, {}),  # DELIVS, read only
            "POLARITY": (13, 13, "rw", 0, {"ACTIVE_HIGH": 0, "ACTIVE_LOW": 1}),  # INTPOL
            "REMOTE_IRR": (14, 14, "ro", 0, {}),  # read only
            "TRIGGER": (15, 15, "rw", 0, EDGE_LEVEL),  # 1 = level sensitive
            "MASK": (16, 16, "rw", 1, {}),  # reset: masked (82093AA: "1 after reset")
            "DEST": (63, 56, "rw", 0, {}),  # destination field, bits 63:56
        },
    ),
}
IOAPIC_SIZE = 0x1000
IOAPIC_PARAMS = {"pins": 24, "version": 0x20}
# Linux io_apic.h struct IO_APIC_route_entry (the legacy bit-field view), as
# masks of the 64-bit entry
LINUX_IOAPIC_RTE = {
    "vector": 0xFF,
    "delivery_mode": 0x7 << 8,
    "dest_mode_logical": 1 << 11,
    "delivery_status": 1 << 12,
    "active_low": 1 << 13,
    "irr": 1 << 14,
    "is_level": 1 << 15,
    "masked": 1 << 16,
    "destid_0_7": 0xFF << 56,
}

# --------------------------------------------------------------------------- HPET

HPET: dict[str, RegLit] = {
    # HPET 1.0a Table 2; Linux hpet.h HPET_ID 0x000, HPET_CFG 0x010, HPET_STATUS 0x020,
    # HPET_COUNTER 0x0f0, HPET_Tn_CFG(n) 0x100 + 0x20 n, HPET_Tn_CMP(n) 0x108 + 0x20 n,
    # HPET_Tn_ROUTE(n) 0x110 + 0x20 n
    "GCAP_ID": (
        0x000,
        64,
        "ro",
        1,
        0,
        {  # §2.3.4
            "REV_ID": (7, 0, "ro", 1, {}),  # must not be 0
            "NUM_TIM_CAP": (12, 8, "ro", 2, {}),  # last timer's number: three timers
            "COUNT_SIZE_CAP": (13, 13, "ro", 1, {}),  # 64-bit main counter
            "LEG_RT_CAP": (15, 15, "ro", 1, {}),  # Linux HPET_ID_LEGSUP 0x8000
            "VENDOR_ID": (31, 16, "ro", 0x8086, {}),  # Linux HPET_ID_VENDOR 0xffff0000
            "COUNTER_CLK_PERIOD": (63, 32, "ro", 0x05F5E100, {}),  # §2.3.4: at most 05F5E100h fs (100 ns)
        },
    ),
    "GEN_CONF": (
        0x010,
        64,
        "rw",
        1,
        0,
        {  # §2.3.5
            "ENABLE_CNF": (0, 0, "rw", 0, {}),  # Linux HPET_CFG_ENABLE 0x001
            "LEG_RT_CNF": (1, 1, "rw", 0, {}),  # Linux HPET_CFG_LEGACY 0x002
        },
    ),
    "GINTR_STA": (0x020, 64, "rw", 1, 0, {"INT_STS": (31, 0, "w1c", 0, {})}),  # §2.3.6: R/WC
    "MAIN_CNT": (0x0F0, 64, "rw", 1, 0, {"COUNTER": (63, 0, "rw", 0, {})}),  # §2.3.7
    "TIMER_CONF": (
        0x100,
        64,
        "rw",
        3,
        0x20,
        {  # §2.3.8; Linux HPET_TN_* masks in the comments
            "INT_TYPE_CNF": (1, 1, "rw", 0, EDGE_LEVEL),  # HPET_TN_LEVEL 0x0002
            "INT_ENB_CNF": (2, 2, "rw", 0, {}),  # HPET_TN_ENABLE 0x0004
            "TYPE_CNF": (3, 3, "rw", 0, {"ONESHOT": 0, "PERIODIC": 1}),  # HPET_TN_PERIODIC 0x0008
            "PER_INT_CAP": (4, 4, "ro", 1, {}),  # HPET_TN_PERIODIC_CAP 0x0010
            "SIZE_CAP": (5, 5, "ro", 1, {}),  # HPET_TN_64BIT_CAP 0x0020
            "VAL_SET_CNF": (6, 6, "rw", 0, {}),  # HPET_TN_SETVAL 0x0040
            "MODE32_CNF": (8, 8, "rw", 0, {}),  # HPET_TN_32BIT 0x0100
            "INT_ROUTE_CNF": (13, 9, "rw", 0, {}),  # HPET_TN_ROUTE 0x3e00
            "FSB_EN_CNF": (14, 14, "rw", 0, {}),  # HPET_TN_FSB 0x4000
            "FSB_INT_DEL_CAP": (15, 15, "ro", 1, {}),  # HPET_TN_FSB_CAP 0x8000
            # bit k: may route to IO-APIC input k; QEMU q35 0x00FF0104 = pins 2, 8, 16..23
            "INT_ROUTE_CAP": (63, 32, "ro", 0x00FF0104, {}),
        },
    ),
    "TIMER_CMP": (0x108, 64, "rw", 3, 0x20, {"VALUE": (63, 0, "rw", 0xFFFFFFFFFFFFFFFF, {})}),  # §2.3.9: all ones
    "TIMER_FSB": (
        0x110,
        64,
        "rw",
        3,
        0x20,
        {  # §2.3.10
            "FSB_INT_VAL": (31, 0, "rw", 0, {}),
            "FSB_INT_ADDR": (63, 32, "rw", 0, {}),
        },
    ),
}
HPET_SIZE = 0x400  # §2.3: 1024 bytes; Linux HPET_MMAP_SIZE/HPET_LEN 1024
HPET_PARAMS = {
    "timers": 3,
    "period_fs": 100_000_000,
    "vendor_id": 0x8086,
    "rev_id": 1,
    "int_route_cap": 0x00FF0104,
    "fsb_capable": 1,
}
HPET_GCAP_ID_RESET = 0x05F5E100_8086A201  # the fields above assembled by hand
# Linux hpet.h: the 32-bit Tn_CONF masks the kernel writes
LINUX_HPET_TN = {
    "HPET_TN_LEVEL": 0x0002,
    "HPET_TN_ENABLE": 0x0004,
    "HPET_TN_PERIODIC": 0x0008,
    "HPET_TN_PERIODIC_CAP": 0x0010,
    "HPET_TN_64BIT_CAP": 0x0020,
    "HPET_TN_SETVAL": 0x0040,
    "HPET_TN_32BIT": 0x0100,
    "HPET_TN_ROUTE": 0x3E00,
    "HPET_TN_FSB": 0x4000,
    "HPET_TN_FSB_CAP": 0x8000,
    "HPET_TN_ROUTE_SHIFT": 9,
}

# --------------------------------------------------------------------------- vectors

# SDM Table 6-1 + Linux trapnr.h names; class per the SDM; error code per
# Linux idtentry.h DECLARE_IDTENTRY_ERRORCODE/_DF/_VC; IST = index + 1 of
# page_64_types.h (IST_INDEX_DF 0, NMI 1, DB 2, MCE 3, VC 4); DPL 3 for the
# SYSG gates of idt.c (#BP, #OF, int 0x80).
# number: (name, kind, class, error code, ist, dpl)
EXCEPTIONS: dict[int, tuple[str, str, str | None, bool, int, int]] = {
    0x00: ("DE", "exception", "fault", False, 0, 0),
    0x01: ("DB", "exception", "trap", False, 3, 0),
    0x02: ("NMI", "exception", "interrupt", False, 2, 0),
    0x03: ("BP", "exception", "trap", False, 0, 3),
    0x04: ("OF", "exception", "trap", False, 0, 3),
    0x05: ("BR", "exception", "fault", False, 0, 0),
    0x06: ("UD", "exception", "fault", False, 0, 0),
    0x07: ("NM", "exception", "fault", False, 0, 0),
    0x08: ("DF", "exception", "abort", True, 1, 0),
    0x09: ("OLD_MF", "exception", "fault", False, 0, 0),
    0x0A: ("TS", "exception", "fault", True, 0, 0),
    0x0B: ("NP", "exception", "fault", True, 0, 0),
    0x0C: ("SS", "exception", "fault", True, 0, 0),
    0x0D: ("GP", "exception", "fault", True, 0, 0),
    0x0E: ("PF", "exception", "fault", True, 0, 0),
    0x0F: ("SPURIOUS_TRAP", "reserved", None, False, 0, 0),  # X86_TRAP_SPURIOUS: Intel reserved
    0x10: ("MF", "exception", "fault", False, 0, 0),
    0x11: ("AC", "exception", "fault", True, 0, 0),
    0x12: ("MC", "exception", "abort", False, 4, 0),
    0x13: ("XF", "exception", "fault", False, 0, 0),
    0x14: ("VE", "exception", "fault", False, 0, 0),
    0x15: ("CP", "exception", "fault", True, 0, 0),
    0x1C: ("HV", "exception", "fault", False, 0, 0),  # AMD SEV-SNP
    0x1D: ("VC", "exception", "fault", True, 5, 0),  # AMD SEV-ES; IST_INDEX_VC 4
    0x1E: ("SX", "exception", "fault", True, 0, 0),  # AMD security exception
}
RESERVED_EXCEPTIONS = [*range(0x16, 0x1C), 0x1F]  # SDM Table 6-1: 22-27 and 31 reserved
# Linux irq_vectors.h (v6.x): the named system vectors, from the top
SYSTEM_VECTORS: dict[str, tuple[int, str]] = {
    "IA32_SYSCALL_VECTOR": (0x80, "syscall"),
    "POSTED_MSI_NOTIFICATION_VECTOR": (0xEB, "system"),
    "LOCAL_TIMER_VECTOR": (0xEC, "timer"),
    "HYPERV_STIMER0_VECTOR": (0xED, "system"),
    "HYPERV_REENLIGHTENMENT_VECTOR": (0xEE, "system"),
    "MANAGED_IRQ_SHUTDOWN_VECTOR": (0xEF, "system"),
    "POSTED_INTR_NESTED_VECTOR": (0xF0, "system"),
    "POSTED_INTR_WAKEUP_VECTOR": (0xF1, "system"),
    "POSTED_INTR_VECTOR": (0xF2, "system"),
    "HYPERVISOR_CALLBACK_VECTOR": (0xF3, "system"),
    "DEFERRED_ERROR_VECTOR": (0xF4, "system"),
    "IRQ_WORK_VECTOR": (0xF6, "ipi"),
    "X86_PLATFORM_IPI_VECTOR": (0xF7, "ipi"),
    "REBOOT_VECTOR": (0xF8, "ipi"),
    "THRESHOLD_APIC_VECTOR": (0xF9, "system"),
    "THERMAL_APIC_VECTOR": (0xFA, "system"),
    "CALL_FUNCTION_SINGLE_VECTOR": (0xFB, "ipi"),
    "CALL_FUNCTION_VECTOR": (0xFC, "ipi"),
    "RESCHEDULE_VECTOR": (0xFD, "ipi"),
    "ERROR_APIC_VECTOR": (0xFE, "system"),
    "SPURIOUS_APIC_VECTOR": (0xFF, "spurious"),
}
SYSCALL_DPL = 3  # idt.c: SYSG(IA32_SYSCALL_VECTOR, ...)
FIRST_EXTERNAL_VECTOR = 0x20  # irq_vectors.h
ISA_IRQ_VECTOR_0 = 0x30  # ISA_IRQ_VECTOR(irq) = ((FIRST_EXTERNAL_VECTOR + 16) & ~15) + irq
FIRST_SYSTEM_VECTOR = 0xEB  # = POSTED_MSI_NOTIFICATION_VECTOR in current kernels
NR_VECTORS = 256

# --------------------------------------------------------------------------- IDT

# SDM Figure 6-8 / Linux desc_defs.h struct gate_struct + struct idt_bits:
# name: (msb, lsb) in the 128-bit descriptor
GATE64 = {
    "offset_low": (15, 0),
    "segment": (31, 16),
    "ist": (34, 32),
    "zero": (39, 35),
    "type": (44, 40),
    "dpl": (46, 45),
    "p": (47, 47),
    "offset_middle": (63, 48),
    "offset_high": (95, 64),
    "reserved": (127, 96),
}
GATE64_SIZE = 16
# SDM Figure 6-2 (32-bit interrupt/trap gate), 8 bytes
GATE32 = {
    "offset_low": (15, 0),
    "segment": (31, 16),
    "zero": (39, 32),
    "type": (44, 40),
    "dpl": (46, 45),
    "p": (47, 47),
    "offset_high": (63, 48),
}
GATE32_SIZE = 8
# SDM Table 3-2 system types / Linux desc_defs.h GATE_INTERRUPT 0xE, GATE_TRAP 0xF, GATE_CALL 0xC, GATE_TASK 0x5
GATE_TYPES = {"interrupt": 0xE, "trap": 0xF, "call": 0xC, "task": 0x5}
KERNEL_CS = 0x10  # Linux segment.h __KERNEL_CS (x86-64): GDT_ENTRY_KERNEL_CS 2 * 8
IDT_ENTRIES = 256
IDTR_LIMIT = 0xFFF  # idt_descr.size = IDT_ENTRIES * 16 - 1
# A 64-bit interrupt gate for handler 0xFFFFFFFF81234567, selector 0x10, DPL 0,
# IST 0, present, byte by byte (gate_struct: offset_low, segment, bits = 0x8E00,
# offset_middle, offset_high, reserved)
GATE64_EXAMPLE_OFFSET = 0xFFFFFFFF81234567
GATE64_EXAMPLE_BYTES = bytes.fromhex("67451000008e2381ffffffff00000000")
# idt_bits words (bytes 4-5) of Linux's gates: INTG 0x8E00, SYSG 0xEE00,
# ISTG(NMI) 0x8E02, ISTG(#DF) 0x8E01, trap gate DPL 0 0x8F00
IDT_BITS = {"intg": 0x8E00, "sysg": 0xEE00, "nmi": 0x8E02, "df": 0x8E01, "trap": 0x8F00}

# --------------------------------------------------------------------------- platform

# Linux apicdef.h APIC_DEFAULT_PHYS_BASE 0xfee00000, io_apic/mpparse IO_APIC_DEFAULT_PHYS_BASE
# 0xfec00000, HPET at 0xfed00000 (the address every PC BIOS reports in the ACPI HPET table)
ADDRESS_MAP = {"lapic": (0xFEE00000, 0x1000), "ioapic": (0xFEC00000, 0x1000), "hpet": (0xFED00000, 0x400)}
ISA_IRQ0_PIN = 2  # the PIT / HPET timer 0 reach IO-APIC pin 2 (MP spec / ACPI interrupt source override)
HPET_LEGACY_PINS = (2, 8)  # HPET 1.0a §2.3.5 legacy replacement: timer 0 → IRQ0 (pin 2), timer 1 → IRQ8 (RTC)


# --------------------------------------------------------------------------- Local APIC MSRs and x2APIC

# SDM vol. 4 table 2-2 (and Linux msr-index.h MSR_IA32_APICBASE 0x1b, MSR_IA32_TSC_DEADLINE 0x6e0);
# SDM vol. 3 §11.4.4 figure 11-5: BSP bit 8, EXTD bit 10 (x2APIC enable), EN bit 11, base 12..MAXPHYADDR-1,
# reset FEE0 0000H | EN (| BSP on the bootstrap processor); bits 0-7 and 9 reserved.
LAPIC_MSRS = {"IA32_APIC_BASE": 0x1B, "IA32_TSC_DEADLINE": 0x6E0}
APIC_BASE_FIELDS = {"BSP": (8, 8), "EXTD": (10, 10), "EN": (11, 11), "BASE": (35, 12)}  # (msb, lsb), MAXPHYADDR 36
APIC_BASE_RESET_AP = 0xFEE00800  # an application processor: base FEE00000H, EN
APIC_BASE_RESERVED = 0xFFFFFFF0_000002FF  # bits 0-7, 9 and MAXPHYADDR..63 (KVM kvm_set_apic_base 0x2ff)
# SDM vol. 3 §11.12.5 figure 11-27 (x2APIC state transitions), Linux x2apic_enable/__x2apic_disable:
# (EN, EXTD) = (0, 0) disabled, (1, 0) xAPIC, (1, 1) x2APIC, (0, 1) invalid.
APIC_MODES = {"DISABLED": {"EN": 0, "EXTD": 0}, "XAPIC": {"EN": 1, "EXTD": 0}, "X2APIC": {"EN": 1, "EXTD": 1}}
APIC_LEGAL = {("DISABLED", "XAPIC"), ("XAPIC", "DISABLED"), ("XAPIC", "X2APIC"), ("X2APIC", "DISABLED")}
APIC_ILLEGAL = {("X2APIC", "XAPIC"), ("DISABLED", "X2APIC")}

# SDM vol. 3 §11.12.1.2 table 11-6 (x2APIC register address space), MSR → (name, access);
# Linux apicdef.h APIC_BASE_MSR 0x800 and the xAPIC offsets >> 4.
X2APIC_MSR_BASE = 0x800
X2APIC_MSRS = {
    0x802: ("ID", "ro"),
    0x803: ("VERSION", "ro"),
    0x808: ("TPR", "rw"),
    0x80A: ("PPR", "ro"),
    0x80B: ("EOI", "wo"),
    0x80D: ("LDR", "ro"),
    0x80F: ("SVR", "rw"),
    **{0x810 + n: (f"ISR{n}", "ro") for n in range(8)},
    **{0x818 + n: (f"TMR{n}", "ro") for n in range(8)},
    **{0x820 + n: (f"IRR{n}", "ro") for n in range(8)},
    0x828: ("ESR", "wl"),
    0x830: ("ICR", "rw"),
    0x832: ("LVT_TIMER", "rw"),
    0x833: ("LVT_THERMAL", "rw"),
    0x834: ("LVT_PERFMON", "rw"),
    0x835: ("LVT_LINT0", "rw"),
    0x836: ("LVT_LINT1", "rw"),
    0x837: ("LVT_ERROR", "rw"),
    0x838: ("TMICT", "rw"),
    0x839: ("TMCCT", "ro"),
    0x83E: ("TDCR", "rw"),
    0x83F: ("SELF_IPI", "wo"),
}
X2APIC_NOT_THERE = (0x809, 0x80C, 0x80E, 0x831)  # APR, RRD, DFR, ICR2: "not in x2APIC mode" (table 11-6)
X2APIC_ICR_DEST = (63, 32)  # SDM §11.12.9 figure 11-28: destination field bits 63:32
X2APIC_ICR_RESERVED = 0xFFF32000  # KVM X2APIC_ICR_RESERVED_BITS: 31:20, 17:16, 13
X2APIC_SELF_IPI_VECTOR = (7, 0)  # SDM §11.12.11 figure 11-29
