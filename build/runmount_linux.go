package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/mountspec"
)

// runMounts turns RUN --mount flags into the RUN container's mounts, as
// BuildKit gives them:
//
//   - type=cache: a directory of lodger's own under the graph root,
//     named by its id (the target when none is given), that keeps its
//     content from build to build; sharing=locked holds a lock on it for
//     the step, shared and private share it;
//   - type=bind: a path of the context (or of --from's image or stage),
//     resolved inside it as COPY's sources are, read-only (rw is not
//     supported yet); a context with a .dockerignore is bound as a copy
//     without what it excludes;
//   - type=tmpfs: a fresh tmpfs.
//
// It returns the mounts, the key material of what they bring in (the
// content of bind sources, the options), and a release func to call once
// the RUN ended.
func (b *builder) runMounts(st *stage, c *instructions.RunCommand, mo *container.MountOptions, envs *[]string) (string, func(), error) {
	var keys []string
	var releases []func()
	release := func() {
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
	}
	fail := func(err error) (string, func(), error) {
		release()
		return "", func() {}, err
	}
	wd := st.config.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if m.Type == instructions.MountTypeSecret {
			if m.CacheID == "" {
				m.CacheID = path.Base(target)
			}
			if target == "" && (m.Env == nil || *m.Env == "") {
				target = "/run/secrets/" + m.CacheID
			}
		}
		if target == "" && m.Type != instructions.MountTypeSecret {
			return fail(fmt.Errorf("RUN --mount=type=%s: no target", m.Type))
		}
		if target != "" && !path.IsAbs(target) {
			target = path.Join(wd, target)
		}
		switch m.Type {
		case instructions.MountTypeTmpfs:
			opt := target
			if m.SizeLimit > 0 {
				opt += fmt.Sprintf(":size=%d", m.SizeLimit)
			}
			if err := addMount(mo, mountspec.ParseTmpfs, opt); err != nil {
				return fail(err)
			}
			keys = append(keys, "tmpfs "+opt)
		case instructions.MountTypeCache:
			dir, unlock, err := b.cacheDir(m)
			if err != nil {
				return fail(err)
			}
			releases = append(releases, unlock)
			opts := ""
			if m.ReadOnly {
				opts = ":ro"
			}
			if err := addMount(mo, mountspec.ParseVolume, dir+":"+target+opts); err != nil {
				return fail(err)
			}
			keys = append(keys, fmt.Sprintf("cache %s %s %s%s", m.CacheID, m.CacheSharing, target, opts))
		case instructions.MountTypeBind:
			if !m.ReadOnly {
				return fail(fmt.Errorf("RUN --mount=type=bind,rw: %w (a read-only bind works)", ErrNotSupported))
			}
			dir, digest, done, err := b.bindSource(st, m)
			if err != nil {
				return fail(err)
			}
			releases = append(releases, done)
			if err := addMount(mo, mountspec.ParseVolume, dir+":"+target+":ro"); err != nil {
				return fail(err)
			}
			keys = append(keys, fmt.Sprintf("bind %s %s %s %s", m.From, m.Source, target, digest))
		case instructions.MountTypeSecret:
			env, file, ok, done, err := b.secret(m, target)
			if err != nil {
				return fail(err)
			}
			releases = append(releases, done)
			if !ok {
				continue // not given, not required: as BuildKit, nothing
			}
			if env != "" {
				*envs = append(*envs, env)
			}
			if file != "" {
				if err := addMount(mo, mountspec.ParseVolume, file+":"+target+":ro"); err != nil {
					return fail(err)
				}
			}
			keys = append(keys, fmt.Sprintf("secret %s %s", m.CacheID, target))
		default:
			return fail(fmt.Errorf("RUN --mount=type=%s: %w", m.Type, ErrNotSupported))
		}
	}
	return strings.Join(keys, "\x00"), release, nil
}

// cacheDir is the directory of a cache mount, made on first use with the
// mount's mode and owner (0755, root's by default), and locked for the
// step with sharing=locked.
func (b *builder) cacheDir(m *instructions.Mount) (string, func(), error) {
	id := m.CacheID
	if id == "" {
		id = m.Target
	}
	sum := sha256.Sum256([]byte(id))
	base := filepath.Join(b.store.GraphRoot(), "build-cache")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
	}
	dir := filepath.Join(base, hex.EncodeToString(sum[:16]))
	mode := os.FileMode(0o755)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	if err := os.Mkdir(dir, mode); err == nil {
		uid, gid := 0, 0
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		if err := os.Lchown(dir, uid, gid); err != nil {
			os.Remove(dir)
			return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
		}
	} else if !errors.Is(err, os.ErrExist) {
		return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
	}
	// Every step that mounts it holds its lock, shared unless
	// sharing=locked: builder prune takes it exclusive, so it never
	// removes a cache a build is using. Its time is the last use.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("cache mount %s: %w", id, err)
	}
	now := time.Now()
	_ = os.Chtimes(dir+".lock", now, now)
	how := unix.LOCK_SH
	if m.CacheSharing == instructions.MountSharingLocked {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(lock.Fd()), how); err != nil {
		lock.Close()
		return "", nil, fmt.Errorf("lock cache mount %s: %w", id, err)
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		// builder prune removed it while this step waited for the
		// lock: make it again.
		lock.Close()
		return b.cacheDir(m)
	}
	return dir, func() { lock.Close() }, nil
}

// bindSource is the host directory or file a bind mount shows, the digest
// of its content, and a func that releases it.
func (b *builder) bindSource(st *stage, m *instructions.Mount) (string, string, func(), error) {
	src := b.ctxSrc
	done := func() {}
	if m.From != "" {
		id, err := b.fromImage(st, m.From)
		if err != nil {
			return "", "", nil, err
		}
		if id == "" {
			return "", "", nil, fmt.Errorf("RUN --mount=from=%s: the stage has no files", m.From)
		}
		dir, err := b.store.MountImage(id, nil, "")
		if err != nil {
			return "", "", nil, fmt.Errorf("mount image %s: %w", short(id), err)
		}
		if src, err = openSource(dir, nil, false); err != nil {
			_, _ = b.store.UnmountImage(id, true)
			return "", "", nil, err
		}
		done = func() {
			src.Close()
			_, _ = b.store.UnmountImage(id, true)
		}
	}
	source := m.Source
	if source == "" {
		source = "."
	}
	ms, err := src.resolve("RUN --mount", source)
	if err != nil {
		done()
		return "", "", nil, err
	}
	if len(ms) != 1 {
		done()
		return "", "", nil, fmt.Errorf("RUN --mount=source=%s: names %d paths, want one", source, len(ms))
	}
	top := ms[0]
	digest, err := src.digest(ms, copyMeta{}, func(m match) string { return m.base })
	if err != nil {
		done()
		return "", "", nil, err
	}
	host := filepath.Join(src.dir, filepath.FromSlash(top.rel))
	if src.ignore == nil || !src.context {
		return host, digest, done, nil
	}
	// The context as COPY sees it: without what .dockerignore excludes.
	info, err := src.root.Lstat(top.rel)
	if err != nil {
		done()
		return "", "", nil, err
	}
	tmp, err := os.MkdirTemp("", "lodger-build-bind-")
	if err != nil {
		done()
		return "", "", nil, err
	}
	prev := done
	done = func() { os.RemoveAll(tmp); prev() }
	name := "."
	if !info.IsDir() {
		name = top.base
	}
	r, w := io.Pipe()
	go func() { w.CloseWithError(src.writeTar(w, top.rel, name, copyMeta{})) }()
	err = container.ExtractToDir(tmp, r)
	r.Close()
	if err != nil {
		done()
		return "", "", nil, fmt.Errorf("RUN --mount=source=%s: %w", source, err)
	}
	if !info.IsDir() {
		return filepath.Join(tmp, name), digest, done, nil
	}
	return tmp, digest, done, nil
}

// addMount parses v as parse's grammar (run's -v or --tmpfs) into mo's
// typed mounts.
func addMount(mo *container.MountOptions, parse func(string) (container.Mount, error), v string) error {
	m, err := parse(v)
	if err != nil {
		return fmt.Errorf("RUN --mount: %w", err)
	}
	m.Origin = "RUN --mount " + v
	mo.List = append(mo.List, m)
	return nil
}

// secret is a secret mount: the variable to set (env=NAME) or the file
// to bind (a copy of the secret with the mount's mode, 0400 by default,
// and owner, root by default), ok false for a secret not given that is
// not required, and a func that removes the copy.
func (b *builder) secret(m *instructions.Mount, target string) (env, file string, ok bool, done func(), err error) {
	done = func() {}
	sec, given := b.o.Secrets[m.CacheID]
	if !given {
		if m.Required {
			return "", "", false, done, fmt.Errorf("RUN --mount=type=secret,id=%s: secret not given: pass it with --secret id=%s,src=PATH", m.CacheID, m.CacheID)
		}
		return "", "", false, done, nil
	}
	data := sec.Data
	if sec.Path != "" {
		if data, err = os.ReadFile(sec.Path); err != nil {
			return "", "", false, done, fmt.Errorf("secret %s: %w", m.CacheID, err)
		}
	}
	if m.Env != nil && *m.Env != "" {
		env = *m.Env + "=" + string(data)
		if target == "" {
			return env, "", true, done, nil
		}
	}
	dir, err := os.MkdirTemp("", "lodger-build-secret-")
	if err != nil {
		return "", "", false, done, err
	}
	done = func() { os.RemoveAll(dir) }
	file = filepath.Join(dir, "secret")
	mode := os.FileMode(0o400)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	err = os.WriteFile(file, data, 0o600)
	if err == nil {
		err = os.Chown(file, uid, gid)
	}
	if err == nil {
		err = os.Chmod(file, mode)
	}
	if err != nil {
		done()
		return "", "", false, func() {}, fmt.Errorf("secret %s: %w", m.CacheID, err)
	}
	return env, file, true, done, nil
}
