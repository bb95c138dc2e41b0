// How the process takes its memory from the kernel (no effect on any simulated figure).
#pragma once

namespace xpu {

// Puts the heap on transparent huge pages where the kernel grants them on request (README "Simulation
// speed": a 70B decode step's first touches of its slot threads' instruction vectors, its L2 model and
// its calendars were 8,100 page faults, about a fifth of its CPU time; with this 2,400-3,200). The heap
// grows 64 MiB beyond each request and keeps up to 256 MiB freed at its top, allocations up to 32 MiB
// come from it instead of a mapping of their own, and the stretch it takes at once now (about 80 MiB of
// address space, touched only as used) is marked MADV_HUGEPAGE (a no-op where THP is off). Call once,
// first thing in main(). Peak RSS 2-12 MiB higher in the runs measured (README).
void heap_on_huge_pages();

}  // namespace xpu
