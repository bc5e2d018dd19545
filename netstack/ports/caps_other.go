//go:build !linux

package ports

// hasNetBindService reports false off Linux, where the port sysctl does not
// exist either, so the check before binding does not apply.
func hasNetBindService() bool { return false }
