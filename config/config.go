// Package config finds lodger's locations and reads its optional
// configuration file, $XDG_CONFIG_HOME/lodger/lodger.toml.
//
//	[storage]
//	driver = "overlay"      # overlay, fuse-overlayfs or vfs; empty: automatic
//	graphroot = "/path"     # default $XDG_DATA_HOME/lodger/storage
//
//	[pull]
//	max_unpacked_size = "32GiB"  # what an image's layers may unpack to
//
//	[session]
//	helper = "auto"         # auto, builtin or rootlesskit: what creates the session's user namespace
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
	"github.com/docker/go-units"
)

// Config is the content of lodger.toml.
type Config struct {
	Storage struct {
		Driver    string `toml:"driver"`
		GraphRoot string `toml:"graphroot"`
	} `toml:"storage"`
	Pull struct {
		// MaxUnpackedSize bounds what a pulled image's layers may unpack
		// to together ("32GiB"), against compression bombs; empty means
		// package image's default.
		MaxUnpackedSize string `toml:"max_unpacked_size"`
	} `toml:"pull"`
	Session struct {
		// Helper is what creates the session's user namespace: auto,
		// builtin or rootlesskit (the distribution's binary, for hosts
		// where AppArmor allows it and not lodger: issue 19).
		// LODGER_SESSION_HELPER wins over it.
		Helper string `toml:"helper"`
	} `toml:"session"`
}

// MaxUnpackedSize is [pull] max_unpacked_size in bytes, 0 when unset.
func (c Config) MaxUnpackedSize() (int64, error) {
	if c.Pull.MaxUnpackedSize == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(c.Pull.MaxUnpackedSize)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("[pull] max_unpacked_size %q: want a size such as 32GiB", c.Pull.MaxUnpackedSize)
	}
	return n, nil
}

// Dir is lodger's configuration directory.
func Dir() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "lodger")
	}
	return filepath.Join(home(), ".config", "lodger")
}

// DataDir is where lodger keeps images and containers.
func DataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "lodger")
	}
	return filepath.Join(home(), ".local", "share", "lodger")
}

// AuthFile is where login and logout keep registry credentials when no
// --authfile is given, or "" to leave the choice to go.podman.io/image:
// $XDG_RUNTIME_DIR/containers/auth.json, which podman and skopeo share.
// Without XDG_RUNTIME_DIR (su, cron, CI) the library falls back to
// /run/containers/UID/auth.json, and inside the session UID is 0: root's
// file, which the user can neither create nor read (issue 12). Podman
// then sets XDG_RUNTIME_DIR itself, to a directory under /tmp. lodger uses
// $XDG_CONFIG_HOME/containers/auth.json instead: the user's own, not in
// /tmp where another user could plant it first, kept across reboots as
// cron and CI jobs need, and the next place podman, skopeo, buildah and
// lodger's own pulls look for credentials, so they all find it.
func AuthFile() string {
	if os.Getenv("XDG_RUNTIME_DIR") != "" {
		return ""
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "containers", "auth.json")
	}
	return filepath.Join(home(), ".config", "containers", "auth.json")
}

func home() string {
	if h := os.Getenv("HOME"); filepath.IsAbs(h) {
		return h
	}
	// Inside the session namespace os/user would look up uid 0; HOME is
	// the only source that stays right, so insist on it.
	return "/nonexistent-set-HOME"
}

// Load reads lodger.toml; a missing file is an empty configuration.
func Load() (Config, error) {
	var c Config
	path := filepath.Join(Dir(), "lodger.toml")
	_, err := toml.DecodeFile(path, &c)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("read configuration %s: %w", path, err)
	}
	if _, err := c.MaxUnpackedSize(); err != nil {
		return c, fmt.Errorf("read configuration %s: %w", path, err)
	}
	return c, nil
}
