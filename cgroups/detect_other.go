//go:build !linux

package cgroups

// Detect finds no cgroups off Linux.
func Detect() Report { return Report{Mode: "none"} }
