//go:build !linux

package cgroups

// Detect finds no cgroups off Linux.
func Detect() Report { return Report{Mode: "none"} }

// IsV2 finds no cgroups off Linux.
func IsV2(dir string) (bool, error) { return false, nil }
