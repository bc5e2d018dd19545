//go:build !linux || !cgo

package nsinit
