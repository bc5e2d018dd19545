package build

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/internal/prunefilter"
	"github.com/lodger-containers/lodger/storage"
)

// Options is one build: what `lodger build` and, later, the API's
// POST /build translate their flags and parameters into.
type Options struct {
	// ContextDir is the build context, a local directory.
	ContextDir string
	// ContextArchive, when not nil, is the context instead: a tar archive
	// (plain or compressed), unpacked into a temporary directory that goes
	// when the build ends, or, when it is no archive, the Dockerfile of a
	// build with an empty context, as Docker reads `docker build -`.
	ContextArchive io.Reader
	// Dockerfile is the Dockerfile's path; empty means Dockerfile in
	// ContextDir. DockerfileContent, when not nil, is the Dockerfile
	// itself (-f -) and wins.
	Dockerfile        string
	DockerfileContent []byte
	// Tags name the image built (-t), in order.
	Tags []string
	// BuildArgs are --build-arg values. A key without a value is taken
	// from the environment by the CLI, as Docker's does.
	BuildArgs map[string]string
	// Target is the stage to build (--target); empty for the last one.
	Target string
	// NoCache builds every step afresh.
	NoCache bool
	// PullPolicy is how FROM images are found: PullMissing (default),
	// PullAlways (--pull) or PullNever.
	PullPolicy string
	// Labels are set on the image built (--label).
	Labels map[string]string
	// Network is the RUN containers' network, as run's --network
	// (Docker's default and bridge are netstack).
	Network string
	// Secrets are --secret: what RUN --mount=type=secret,id=ID shows,
	// by id. They reach only the RUN steps that mount them: never a
	// layer, the history or the cache key.
	Secrets map[string]Secret
	// Output receives the progress in the Progress format, and what RUN
	// steps print; nil for none.
	Output io.Writer
	// Progress is the format of Output: Docker's classic builder's lines
	// (the default), BuildKit's plain lines or a terminal view.
	Progress Progress
	// TermSize gives the terminal's columns and rows for ProgressTTY.
	TermSize func() (cols, rows int)
	// PullProgress receives the progress of FROM pulls; nil for none.
	PullProgress io.Writer
	// Format is the manifest format of the image built: image.FormatDocker
	// (the default, which keeps HEALTHCHECK, ONBUILD and SHELL) or
	// image.FormatOCI (which drops them, as podman's --format oci does).
	Format string
	// Export, when not nil, also writes the image built out (--output).
	Export *Export
	// Storage and Pull are the options of the store and of pulls, which
	// the RUN containers take too.
	Storage storage.Options
	Pull    image.Options
}

// Export is where --output writes the image built.
type Export struct {
	// Type is ExportDocker or ExportOCI (an image archive, as docker save
	// and an OCI layout archive hold it), ExportTar (the image's files as
	// a tar archive) or ExportLocal (its files in the directory Dest).
	Type string
	// Dest is a file, a directory (local) or "-" for Stdout.
	Dest   string
	Stdout io.Writer
}

// Export types.
const (
	ExportDocker = "docker"
	ExportOCI    = "oci"
	ExportTar    = "tar"
	ExportLocal  = "local"
)

// Secret is one --secret: a file's path, or the value of an environment
// variable read when the build starts.
type Secret struct {
	Path string
	Data []byte
}

// Pull policies of FROM images.
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// Report is what a build made.
type Report struct {
	// ImageID is the image built, "sha256:" and its hex digest.
	ImageID string
	// Tags are the names given to it, as Docker prints them.
	Tags []string
	// Steps are the steps run, in order; CacheHits counts those a cached
	// image answered.
	Steps     []Step
	CacheHits int
}

// Step is one instruction of the build.
type Step struct {
	Instruction string // as written in the Dockerfile
	ImageID     string // the image after it (hex)
	Cached      bool
}

// ErrNotSupported marks Dockerfile features lodger does not build yet.
var ErrNotSupported = errors.New("not supported yet")

// RunError is a RUN step whose command failed, in Docker's words.
type RunError struct {
	Command string // the command line, shell included
	Code    int
	Err     error // what lodger saw, when it was not a plain exit status
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("The command '%s' returned a non-zero code: %d", e.Command, e.Code)
	if e.Err != nil {
		msg += " (" + e.Err.Error() + ")"
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// PathError is a COPY or ADD source outside the build context, or one
// not in it.
type PathError struct {
	Instruction string
	Path        string
	Err         error
}

func (e *PathError) Error() string {
	return fmt.Sprintf("%s failed: %s: %v", e.Instruction, e.Path, e.Err)
}

func (e *PathError) Unwrap() error { return e.Err }

// ErrOutsideContext is a source path that leaves the build context.
var ErrOutsideContext = errors.New("forbidden path outside the build context")

// ErrSourceNotFound is a source that is not in the context, or that
// .dockerignore excludes.
var ErrSourceNotFound = errors.New("file not found in build context or excluded by .dockerignore")

// CacheUsage is the "Build Cache" line of system df: the cache mounts.
type CacheUsage struct {
	// Total counts the cache mounts; Active those a build uses now.
	Total, Active int
	// Size is what their files take; Reclaimable what builder prune
	// would free (the mounts not in use).
	Size, Reclaimable int64
	// Mounts are the cache mounts one by one, as the Engine API's
	// system/df lists its build cache records.
	Mounts []CacheMount
}

// CacheMount is one cache mount of RUN --mount=type=cache.
type CacheMount struct {
	ID       string
	Size     int64
	InUse    bool
	LastUsed time.Time
}

// PruneOptions say what builder prune removes.
type PruneOptions struct {
	// All removes the images of every build step no tagged image is
	// made of too, not only the dangling ones: the next build starts
	// afresh.
	All bool
	// Filter selects what goes: until keeps what was used (a cache
	// mount) or made (a step image) at or after it. The build cache's
	// objects carry no labels of their own, as Docker's do not: label=
	// keeps every one of them, label!= keeps none back.
	Filter prunefilter.Filter
}

// PruneReport is what Prune removed: the cache mounts' and step images'
// IDs, and the bytes freed.
type PruneReport struct {
	Removed   []string
	Reclaimed int64
}
