package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"go.podman.io/storage/pkg/archive"
)

// source is where COPY and ADD read: the build context, or the root
// filesystem of an image or earlier stage (--from). Every path is
// resolved inside dir, symlinks included, and opened through an os.Root,
// so neither a "../" nor a symlink leads out: a link to /etc/passwd in
// the context names the context's own etc/passwd.
type source struct {
	dir    string
	root   *os.Root
	ignore *patternmatcher.PatternMatcher // the context's .dockerignore; nil for none
	// context says the paths are the build context's, where a "../"
	// is refused rather than clamped.
	context bool
}

func openSource(dir string, ignore *patternmatcher.PatternMatcher, context bool) (*source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &source{dir: dir, root: root, ignore: ignore, context: context}, nil
}

func (s *source) Close() error { return s.root.Close() }

// readIgnore reads the context's .dockerignore (or, beside a Dockerfile
// named X, X.dockerignore first, as BuildKit does). A missing file
// ignores nothing. size is the file's size, for the progress.
func readIgnore(contextDir, dockerfile string) (pm *patternmatcher.PatternMatcher, size int64, err error) {
	candidates := []string{}
	if dockerfile != "" {
		candidates = append(candidates, dockerfile+".dockerignore")
	}
	candidates = append(candidates, filepath.Join(contextDir, ".dockerignore"))
	for _, name := range candidates {
		data, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		patterns, err := ignorefile.ReadAll(bytes.NewReader(data))
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", name, err)
		}
		if len(patterns) == 0 {
			return nil, int64(len(data)), nil
		}
		pm, err := patternmatcher.New(patterns)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, err)
		}
		return pm, int64(len(data)), nil
	}
	return nil, 0, nil
}

// ignored says whether .dockerignore excludes rel (slash-separated,
// relative to the context).
func (s *source) ignored(rel string) bool {
	if s.ignore == nil || rel == "." || rel == "" {
		return false
	}
	m, err := s.ignore.MatchesOrParentMatches(rel)
	return err == nil && m
}

// match is a source path found: rel is where it is in the source, with
// symlinks resolved inside it; base names it at the destination.
type match struct {
	rel  string
	base string
	// path is the source path as the argument named it (a wildcard
	// expanded), relative to the source's root, for COPY --parents.
	path string
}

// resolve finds what the source argument src names: one path, or every
// path a wildcard matches. Not finding one, or finding only what
// .dockerignore excludes, is ErrSourceNotFound.
func (s *source) resolve(instr, src string) ([]match, error) {
	clean := path.Clean(filepath.ToSlash(src))
	if s.context && (clean == ".." || strings.HasPrefix(clean, "../")) {
		return nil, &PathError{Instruction: instr, Path: src, Err: ErrOutsideContext}
	}
	rel := strings.TrimPrefix(path.Clean("/"+clean), "/")
	if rel == "" {
		rel = "."
	}
	var cands []string
	if strings.ContainsAny(rel, "*?[") {
		var err error
		if cands, err = s.glob(".", strings.Split(rel, "/")); err != nil {
			return nil, &PathError{Instruction: instr, Path: src, Err: err}
		}
	} else {
		cands = []string{rel}
	}
	var out []match
	for _, c := range cands {
		if s.context && s.ignored(c) {
			continue
		}
		resolved, err := s.inside(c)
		if err != nil {
			return nil, &PathError{Instruction: instr, Path: src, Err: err}
		}
		if _, err := s.root.Lstat(resolved); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, &PathError{Instruction: instr, Path: src, Err: err}
		}
		out = append(out, match{rel: resolved, base: path.Base(c), path: c})
	}
	if len(out) == 0 {
		return nil, &PathError{Instruction: instr, Path: src, Err: ErrSourceNotFound}
	}
	return out, nil
}

// inside resolves rel's symlinks as if s.dir were the root.
func (s *source) inside(rel string) (string, error) {
	p, err := securejoin.SecureJoin(s.dir, rel)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(s.dir, p)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", ErrOutsideContext
	}
	return filepath.ToSlash(r), nil
}

// glob expands a wildcard path component by component, below dir.
func (s *source) glob(dir string, comps []string) ([]string, error) {
	if len(comps) == 0 {
		return []string{dir}, nil
	}
	c := comps[0]
	join := func(n string) string {
		if dir == "." {
			return n
		}
		return dir + "/" + n
	}
	if !strings.ContainsAny(c, "*?[") {
		return s.glob(join(c), comps[1:])
	}
	if _, err := path.Match(c, ""); err != nil {
		return nil, err
	}
	f, err := s.root.Open(dir)
	if err != nil {
		return nil, nil // nothing to match in
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, nil
	}
	var out []string
	for _, e := range entries {
		if ok, _ := path.Match(c, e.Name()); !ok {
			continue
		}
		if len(comps) > 1 && !e.IsDir() {
			continue
		}
		more, err := s.glob(join(e.Name()), comps[1:])
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	slices.Sort(out)
	return out, nil
}

// copyMeta is what COPY --chown and --chmod make of the files.
type copyMeta struct {
	uid, gid int
	chmod    *fs.FileMode
	// exclude is COPY --exclude: paths relative to what is copied (a
	// file's own name) that are left out.
	exclude *patternmatcher.PatternMatcher
}

// excluded says whether --exclude leaves out name.
func (m copyMeta) excluded(name string) bool {
	if m.exclude == nil || name == "." {
		return false
	}
	ok, err := m.exclude.MatchesOrParentMatches(name)
	return err == nil && ok
}

// entry is one file of a source tree, as it will be at the destination.
type entry struct {
	rel  string // in the source
	name string // relative to the destination directory
	info fs.FileInfo
	link string
}

// walk calls fn for top and, when it is a directory, for everything
// below it that .dockerignore does not exclude, in lexical order. A
// directory top is named "." (its content lands in the destination);
// a file top is named name.
func (s *source) walk(top, name string, m copyMeta, fn func(entry) error) error {
	info, err := s.root.Lstat(top)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if m.excluded(name) {
			return nil
		}
		e := entry{rel: top, name: name, info: info}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.link, err = s.root.Readlink(top); err != nil {
				return err
			}
		}
		return fn(e)
	}
	if err := fn(entry{rel: top, name: ".", info: info}); err != nil {
		return err
	}
	return s.walkDir(top, "", m, fn)
}

func (s *source) walkDir(dir, prefix string, m copyMeta, fn func(entry) error) error {
	f, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, de := range entries {
		rel := path.Join(dir, de.Name())
		name := path.Join(prefix, de.Name())
		if (s.context && s.ignored(rel)) || m.excluded(name) {
			// An excluded directory may hold a path a "!" pattern takes
			// back.
			if !de.IsDir() || !((s.context && s.ignore.Exclusions()) || (m.exclude != nil && m.exclude.Exclusions())) {
				continue
			}
			if err := s.walkDir(rel, name, m, fn); err != nil {
				return err
			}
			continue
		}
		info, err := s.root.Lstat(rel)
		if err != nil {
			return err
		}
		e := entry{rel: rel, name: name, info: info}
		if info.Mode()&fs.ModeSymlink != 0 {
			if e.link, err = s.root.Readlink(rel); err != nil {
				return err
			}
		}
		if err := fn(e); err != nil {
			return err
		}
		if info.IsDir() {
			if err := s.walkDir(rel, name, m, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// header is the tar header of e at its destination. Only directories,
// regular files and symlinks are copied: a socket or device in the
// context is skipped, as Docker skips sockets.
func header(e entry, m copyMeta) *tar.Header {
	mode := e.info.Mode()
	h := &tar.Header{Name: e.name, Uid: m.uid, Gid: m.gid, ModTime: e.info.ModTime(), Format: tar.FormatPAX}
	perm := int64(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if mode&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if mode&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch {
	case mode.IsDir():
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case mode.IsRegular():
		h.Typeflag = tar.TypeReg
		h.Size = e.info.Size()
	case mode&fs.ModeSymlink != 0:
		h.Typeflag = tar.TypeSymlink
		h.Linkname = e.link
		perm = 0o777
	default:
		return nil
	}
	if m.chmod != nil && h.Typeflag != tar.TypeSymlink {
		perm = int64(*m.chmod)
	}
	h.Mode = perm
	return h
}

// digest hashes what copying tops would write: names, types, modes,
// owners, link targets and content, never times, so that a touched file
// keeps the cache and a changed one does not.
func (s *source) digest(tops []match, m copyMeta, names func(match) string) (string, error) {
	h := sha256.New()
	for _, t := range tops {
		fmt.Fprintf(h, "top %q\n", names(t))
		err := s.walk(t.rel, names(t), m, func(e entry) error {
			hdr := header(e, m)
			if hdr == nil {
				return nil
			}
			fmt.Fprintf(h, "%c %q %o %d:%d %q %d\n", hdr.Typeflag, hdr.Name, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Linkname, hdr.Size)
			if hdr.Typeflag == tar.TypeReg {
				return s.hashFile(h, e.rel)
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *source) hashFile(h hash.Hash, rel string) error {
	f, err := s.root.Open(rel)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(h, f)
	return err
}

// writeTar writes top as a tar stream whose names are relative to the
// destination directory.
func (s *source) writeTar(w io.Writer, top, name string, m copyMeta) error {
	tw := tar.NewWriter(w)
	err := s.walk(top, name, m, func(e entry) error {
		hdr := header(e, m)
		if hdr == nil {
			return nil
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := s.root.Open(e.rel)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%s changed size while copied", e.rel)
		}
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// parseChmod reads --chmod: octal only, as Docker's classic builder.
func parseChmod(v string) (*fs.FileMode, error) {
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o7777 {
		return nil, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", v)
	}
	mode := fs.FileMode(n)
	return &mode, nil
}

// isArchive says whether f is a tar archive, compressed or not.
func isArchive(f io.Reader) bool {
	rd, err := archive.DecompressStream(f)
	if err != nil {
		return false
	}
	defer rd.Close()
	_, err = tar.NewReader(rd).Next()
	return err == nil
}

// unpackContext unpacks a context archive into a new temporary
// directory; a stream that is no archive is returned as the Dockerfile,
// with an empty directory as the context.
// maxStdinDockerfile bounds a Dockerfile read from standard input.
const maxStdinDockerfile = 16 << 20

func unpackContext(r io.Reader) (dir string, dockerfile []byte, err error) {
	dir, err = os.MkdirTemp("", "lodger-build-context-")
	if err != nil {
		return "", nil, fmt.Errorf("build context: %w", err)
	}
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(1 << 16)
	if !isArchive(bytes.NewReader(head)) {
		// Read whole, so bounded: what is no archive must be a
		// Dockerfile, and none is that large.
		b, err := io.ReadAll(io.LimitReader(br, maxStdinDockerfile+1))
		if err != nil {
			return dir, nil, fmt.Errorf("read Dockerfile: %w", err)
		}
		if len(b) > maxStdinDockerfile {
			return dir, nil, fmt.Errorf("read Dockerfile: standard input is no tar archive (plain, gzip, bzip2, xz or zstd) and more than %d MiB: not a Dockerfile either", maxStdinDockerfile>>20)
		}
		return dir, b, nil
	}
	// The archive may be hostile (a context downloaded and piped in):
	// it is unpacked as lodger cp unpacks, never through a symlink it
	// made. Its owners do not matter: COPY and ADD give their files
	// root's, or --chown's.
	rd, err := archive.DecompressStream(br)
	if err != nil {
		return dir, nil, fmt.Errorf("unpack build context: %w", err)
	}
	defer rd.Close()
	if err := extractToDir(dir, rd); err != nil {
		return dir, nil, fmt.Errorf("unpack build context: %w", err)
	}
	return dir, nil, nil
}
