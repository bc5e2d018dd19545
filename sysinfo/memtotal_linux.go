package sysinfo

import "golang.org/x/sys/unix"

// memTotal is the machine's memory in bytes, as Docker's MemTotal.
func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
