package main

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The dynamic-userland image of the name-resolution tests (issue 14):
// glibc's getent, its shared libraries and the NSS modules it loads for
// `hosts: files dns`, copied from the host that builds the images, on
// the busybox base (for sh). A debootstrap would need a mirror; these
// files are the part of one the test uses.

// getentLibDirs are where the host's shared libraries are looked for, in
// the dynamic loader's default order on Debian.
var getentLibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// getentModules are loaded by name at run time (dlopen), not linked:
// glibc's NSS modules for files and dns, and the resolver library.
var getentModules = []string{"libnss_files.so.2", "libnss_dns.so.2", "libresolv.so.2"}

// libInImage is where the image keeps every library: the first of the
// loader's default directories.
const libInImage = "lib/x86_64-linux-gnu/"

// getentEntries are the files of the getent layer: the binary at
// usr/bin/getent, its interpreter at the path it names, each library it
// or the NSS modules need (found as ldd would, from DT_NEEDED) in
// lib/x86_64-linux-gnu, and an nsswitch.conf of hosts: files dns.
func getentEntries(getent string) ([]entry, error) {
	bin, err := os.ReadFile(getent)
	if err != nil {
		return nil, fmt.Errorf("getent: %w", err)
	}
	entries := []entry{
		dirEntry("usr", 0o755),
		dirEntry("usr/bin", 0o755),
		fileEntry("usr/bin/getent", 0o755, bin),
		dirEntry("lib", 0o755),
		dirEntry("lib/x86_64-linux-gnu", 0o755),
		dirEntry("etc", 0o755),
		textEntry("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"),
	}
	interp, err := interpreter(getent)
	if err != nil {
		return nil, err
	}
	if interp == "" {
		return nil, fmt.Errorf("%s is not dynamically linked", getent)
	}
	body, err := os.ReadFile(interp)
	if err != nil {
		return nil, fmt.Errorf("getent's interpreter: %w", err)
	}
	rel := strings.TrimPrefix(filepath.Clean(interp), "/")
	for d := filepath.Dir(rel); d != "." && d != "lib" && d != "lib/x86_64-linux-gnu"; d = filepath.Dir(d) {
		entries = append(entries, dirEntry(d, 0o755))
	}
	entries = append(entries, fileEntry(rel, 0o755, body))
	done := map[string]bool{filepath.Base(interp): true}
	queue := []string{getent}
	for _, m := range getentModules {
		p, err := findLib(m)
		if err != nil {
			return nil, err
		}
		queue = append(queue, p)
		done[m] = true
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		entries = append(entries, fileEntry(libInImage+m, 0o755, b))
	}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		f, err := elf.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read ELF %s: %w", path, err)
		}
		needed, err := f.ImportedLibraries()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("libraries of %s: %w", path, err)
		}
		for _, name := range needed {
			if done[name] {
				continue
			}
			done[name] = true
			p, err := findLib(name)
			if err != nil {
				return nil, err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			entries = append(entries, fileEntry(libInImage+name, 0o755, b))
			queue = append(queue, p)
		}
	}
	return entries, nil
}

// interpreter is the ELF interpreter (PT_INTERP) path names, "" for a
// static binary.
func interpreter(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("read ELF %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return "", fmt.Errorf("interpreter of %s: %w", path, err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// findLib is the host's file of library name.
func findLib(name string) (string, error) {
	for _, d := range getentLibDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("library %s: not found in %s", name, strings.Join(getentLibDirs, ", "))
}

// buildGetentImage adds getent:latest: the busybox base and a layer of
// the host's getent with what it loads.
func buildGetentImage(l *layout, bb busybox, getent string) error {
	entries, err := getentEntries(getent)
	if err != nil {
		return err
	}
	base, err := l.writeLayer(compressGzip, tarEntries(baseEntries(bb)...))
	if err != nil {
		return fmt.Errorf("write layer base: %w", err)
	}
	ly, err := l.writeLayer(compressGzip, tarEntries(entries...))
	if err != nil {
		return fmt.Errorf("write layer getent: %w", err)
	}
	d, err := l.writeImage(baseConfig("amd64"), []layer{base, ly})
	if err != nil {
		return fmt.Errorf("image getent:latest: %w", err)
	}
	l.tag(testRepo+"getent:latest", d)
	return nil
}
