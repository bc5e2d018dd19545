//go:build linux && cgo

// Mapping the program's pages in bulk before the Go runtime starts.
//
// A lodger command is short and starts big: the kernel maps the binary's
// code and data one page fault at a time (a fault maps 16 pages of a
// file at most), and on a virtual machine every fault is a trap that
// costs 15-25 µs instead of well under one. madvise(MADV_POPULATE_*)
// maps a whole range in one call without a fault per page: about 1 ms
// for lodger's 34 MB against some 600 faults. See docs/architecture.md,
// "Start-up".
#define _GNU_SOURCE
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

// How much of the zero-filled data after a writable segment's file part
// (.bss and the start of .noptrbss) is populated: Go's .noptrbss holds
// tens of megabytes of tables a command never touches.
#define BSS_AHEAD (256UL << 10)

// lodger_prefault_on tells prefault_linux.go whether to populate the Go
// heap as well.
int lodger_prefault_on = 0;

static void populate(unsigned long start, unsigned long end, int advice) {
	start &= ~4095UL;
	end = (end + 4095) & ~4095UL;
	if (end > start)
		madvise((void *)start, end - start, advice);
}

// segments populates the main program's loadable segments: read-only ones
// (code, read-only data, Go's pclntab) for reading, writable ones for
// writing (their private copies are made now), past the part that
// ld.so made read-only after relocation (GNU_RELRO), where a write would
// fail the whole call.
static int segments(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	(void)data;
	unsigned long relro_end = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_RELRO)
			relro_end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~4095UL;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		unsigned long start = info->dlpi_addr + ph->p_vaddr;
		unsigned long file_end = start + ph->p_filesz, mem_end = start + ph->p_memsz;
		if (!(ph->p_flags & PF_W)) {
			populate(start, file_end, MADV_POPULATE_READ);
			continue;
		}
		if (start < relro_end)
			start = relro_end;
		unsigned long end = file_end + BSS_AHEAD;
		populate(start, end < mem_end ? end : mem_end, MADV_POPULATE_WRITE);
	}
	return 1; // the first object is the program itself; libraries are small
}

// Not for the processes that only pass through this binary on the way
// to another (the container init and the linger helper, which exec or
// wait from their own constructors), not for the API server that
// lodger-socket starts and that stays while requests come (its resident
// size would grow by the whole binary), and not when the user says so.
__attribute__((constructor)) static void lodger_prefault(int argc, char **argv) {
	if (argc > 1 && strncmp(argv[1], "_lodger-", 8) == 0)
		return;
	if (getenv("_LODGER_SERVICE_FD"))
		return;
	const char *off = getenv("LODGER_PREFAULT");
	if (off && strcmp(off, "0") == 0)
		return;
	lodger_prefault_on = 1;
	dl_iterate_phdr(segments, NULL);
}
