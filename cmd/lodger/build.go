//go:build lodger_transfer

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lodger-containers/lodger/build"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/storage"
)

type buildOptions struct {
	pullFlags
	tags      []string
	file      string
	buildArgs []string
	target    string
	noCache   bool
	pull      string
	labels    []string
	quiet     bool
	network   string
	iidfile   string
	platform  string
	secrets   []string
	progress  string
	output    string
	format    string
	cacheFrom []string
	cacheTo   []string
}

func newBuildCommand() *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:   buildDoc.use,
		Short: buildDoc.short,
		Long: `Build an image from the Dockerfile in the directory CONTEXT (or the one -f
names; with -, stdin is a tar archive of the context, or a Dockerfile
alone) without a daemon: every RUN is a lodger container with run's
isolation and network, every step an image in lodger's storage. A step
whose parent image, instruction, build arguments and, for COPY and ADD,
copied content match an earlier build's is taken from the cache
(--no-cache builds everything afresh). The output is Docker's classic
is BuildKit's, on standard error: "#N [stage i/n] STEP" for each step
that makes a layer, each line a RUN prints under it with its time, then
CACHED, DONE with the step's time, or ERROR; a live view on a terminal
(--progress). DOCKER_BUILDKIT=0 prints the classic builder's lines (Step
N/M, Using cache, Successfully built ID) on standard output instead. RUN takes --mount=type=cache|bind|tmpfs|secret and
--network; COPY --exclude and --parents; heredocs; a context tarball on
stdin; ADD of http(s) URLs. A context URL, RUN --mount=type=ssh and ADD
of a git repository are not supported yet.`,
		Args: exactArgs(1, "CONTEXT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			contextDir := args[0]
			switch {
			case contextDir == "-" && o.file == "-":
				return errors.New("-f - and a context on stdin: only one of them can be read from stdin")
			case strings.Contains(contextDir, "://") || strings.HasPrefix(contextDir, "git@"):
				return fmt.Errorf("a remote build context (%s): %w; clone or download it and give the directory", contextDir, build.ErrNotSupported)
			}
			if want := "linux/" + runtime.GOARCH; o.platform != "" && o.platform != want {
				return fmt.Errorf("--platform %s: %w: lodger builds for this machine's platform, %s", o.platform, build.ErrNotSupported, want)
			}
			if len(o.cacheTo) > 0 {
				return fmt.Errorf("--cache-to %s: exporting the build cache (to a registry or elsewhere) is %w; lodger's cache is the step images in local storage", o.cacheTo[0], build.ErrNotSupported)
			}
			if len(o.cacheFrom) > 0 {
				fmt.Fprintf(os.Stderr, "WARNING: --cache-from %s: importing a build cache (from a registry or elsewhere) is not supported yet; building with the local cache only\n", o.cacheFrom[0])
			}
			export, err := parseOutput(o.output)
			if err != nil {
				return err
			}
			if export != nil && export.Dest == "-" {
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return errors.New("--output: refusing to write an archive to a terminal; give dest=FILE or redirect standard output")
				}
				export.Stdout = os.Stdout
				if o.quiet {
					return errors.New("--output dest=- and -q: both write to standard output")
				}
			}
			switch o.format {
			case image.FormatDocker, image.FormatOCI:
			default:
				return fmt.Errorf("--format %q: use docker or oci", o.format)
			}
			bo := build.Options{
				Format:     o.format,
				Export:     export,
				ContextDir: contextDir,
				Tags:       o.tags,
				Target:     o.target,
				NoCache:    o.noCache,
				PullPolicy: o.pull,
				Network:    o.network,
				Pull:       o.options(cmd.Flags()),
				BuildArgs:  map[string]string{},
				Labels:     map[string]string{},
			}
			if contextDir == "-" {
				// A tar archive of the context, or a Dockerfile alone.
				bo.ContextDir, bo.ContextArchive = "", os.Stdin
			}
			switch o.file {
			case "":
			case "-":
				b, err := io.ReadAll(os.Stdin)
				if err != nil {
					return fmt.Errorf("read Dockerfile from stdin: %w", err)
				}
				bo.DockerfileContent = b
			default:
				bo.Dockerfile = o.file
			}
			for _, a := range o.buildArgs {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					// Docker's rule: a bare KEY takes the environment's
					// value, and is left out when unset there.
					if v, ok = os.LookupEnv(k); !ok {
						continue
					}
				}
				bo.BuildArgs[k] = v
			}
			if len(o.secrets) > 0 {
				bo.Secrets = map[string]build.Secret{}
			}
			for _, v := range o.secrets {
				id, sec, err := parseSecret(v)
				if err != nil {
					return err
				}
				bo.Secrets[id] = sec
			}
			for _, l := range o.labels {
				k, v, _ := strings.Cut(l, "=")
				if k == "" {
					return fmt.Errorf("--label %q: use KEY=VALUE", l)
				}
				bo.Labels[k] = v
			}
			progress := o.progress
			if !cmd.Flags().Changed("progress") && os.Getenv("BUILDKIT_PROGRESS") != "" {
				progress = os.Getenv("BUILDKIT_PROGRESS")
			}
			stderrTTY := term.IsTerminal(int(os.Stderr.Fd()))
			switch progress {
			case "", "auto":
				bo.Progress = build.ProgressPlain
				if stderrTTY {
					bo.Progress = build.ProgressTTY
				}
			case "plain":
				bo.Progress = build.ProgressPlain
			case "tty":
				if !stderrTTY {
					return errors.New("--progress tty: standard error is not a terminal; use plain or auto")
				}
				bo.Progress = build.ProgressTTY
			case "quiet":
				o.quiet = true
			default:
				return fmt.Errorf("--progress %q: use auto, plain, tty or quiet", progress)
			}
			bo.TermSize = func() (int, int) {
				w, h, _ := term.GetSize(int(os.Stderr.Fd()))
				return w, h
			}
			if !o.quiet {
				// BuildKit's progress goes to standard error, as
				// docker build prints it; DOCKER_BUILDKIT=0 asks for
				// the classic builder's lines on standard output.
				bo.Output = os.Stderr
				bo.PullProgress = os.Stderr
				if classicBuilder() {
					bo.Progress = build.ProgressClassic
					bo.Output = os.Stdout
				}
			}
			so, err := storeOptions()
			if err != nil {
				return err
			}
			bo.Storage = so
			store, err := storage.Open(so)
			if err != nil {
				return err
			}
			defer store.Shutdown(false)
			return interruptible(cmd, "build", func(ctx context.Context) error {
				rep, err := build.Build(ctx, store, bo)
				var runErr *build.RunError
				if errors.As(err, &runErr) && runErr.Err == nil && bo.Progress != build.ProgressClassic {
					// BuildKit's words for a RUN that failed.
					return fmt.Errorf("failed to solve: process %q did not complete successfully: exit code: %d", runErr.Command, runErr.Code)
				}
				if err != nil {
					return withBudgetHint(err)
				}
				if o.iidfile != "" {
					if err := os.WriteFile(o.iidfile, []byte(rep.ImageID), 0o644); err != nil {
						return fmt.Errorf("--iidfile: %w", err)
					}
				}
				if o.quiet {
					fmt.Fprintln(cmd.OutOrStdout(), rep.ImageID)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	o.registerRegistry(f)
	f.StringArrayVarP(&o.tags, "tag", "t", nil, "name the image NAME[:TAG] (repeatable)")
	f.StringVarP(&o.file, "file", "f", "", "the Dockerfile (default CONTEXT/Dockerfile; - reads it from stdin)")
	f.StringArrayVar(&o.buildArgs, "build-arg", nil, "set a build argument KEY=VALUE (KEY alone takes it from the environment)")
	f.StringVar(&o.target, "target", "", "build the stage of this name (default the last one)")
	f.BoolVar(&o.noCache, "no-cache", false, "build every step afresh, without the cache")
	f.StringVar(&o.pull, "pull", build.PullMissing, "pull FROM images: missing (when not in local storage), always (--pull alone), never")
	f.Lookup("pull").NoOptDefVal = build.PullAlways
	f.StringArrayVar(&o.labels, "label", nil, "set a label KEY=VALUE on the image (repeatable)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image ID")
	f.StringVar(&o.network, "network", "", "network of the RUN steps: netstack (default; Docker's default and bridge mean it), none or host")
	f.StringVar(&o.iidfile, "iidfile", "", "write the image ID to this file")
	f.StringArrayVar(&o.secrets, "secret", nil, "a secret for RUN --mount=type=secret: id=ID,src=FILE or id=ID,env=VAR (id=ID alone: the variable ID)")
	f.StringVar(&o.progress, "progress", "auto", "progress output on standard error: auto (tty on a terminal, else plain), plain (BuildKit's #N lines), tty (a live view) or quiet (-q); DOCKER_BUILDKIT=0 prints the classic builder's lines on standard output")
	f.StringVarP(&o.output, "output", "o", "", "also write the image out: type=docker|oci,dest=FILE (an image archive), type=tar,dest=FILE or type=local,dest=DIR (its files); DIR alone is type=local, - is type=tar to standard output")
	f.StringVar(&o.format, "format", image.FormatDocker, "manifest format of the image: docker (keeps HEALTHCHECK, ONBUILD, SHELL) or oci (drops them)")
	f.StringArrayVar(&o.cacheFrom, "cache-from", nil, "external cache sources: not supported yet (a warning; the local cache is used)")
	f.StringArrayVar(&o.cacheTo, "cache-to", nil, "cache export destinations: not supported yet (an error)")
	f.StringVar(&o.platform, "platform", "", "the platform to build for: only this machine's (linux/ARCH) for now")
	return sessionCommand(cmd, 1)
}

// parseOutput reads --output as docker build does: comma-separated
// type= and dest= (a path alone is type=local, - a tar on standard
// output). type=docker or image without dest only names the image in
// storage, where it is anyway. nil for none.
func parseOutput(v string) (*build.Export, error) {
	if v == "" {
		return nil, nil
	}
	if !strings.Contains(v, "=") {
		if v == "-" {
			return &build.Export{Type: build.ExportTar, Dest: "-"}, nil
		}
		return &build.Export{Type: build.ExportLocal, Dest: v}, nil
	}
	x := &build.Export{}
	for _, f := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("--output %q: %q is not KEY=VALUE", v, f)
		}
		switch strings.ToLower(k) {
		case "type":
			x.Type = val
		case "dest":
			x.Dest = val
		case "name":
			// The image's name: -t gives it.
		default:
			return nil, fmt.Errorf("--output %q: %q is %w (use type and dest)", v, k, build.ErrNotSupported)
		}
	}
	switch x.Type {
	case build.ExportDocker, "image":
		if x.Dest == "" {
			return nil, nil // the image is in storage: what docker's load does
		}
		if x.Type == "image" {
			return nil, fmt.Errorf("--output %q: type=image takes no dest; use type=docker or oci", v)
		}
	case build.ExportOCI, build.ExportTar, build.ExportLocal:
	case "registry":
		return nil, fmt.Errorf("--output type=registry: %w; build with -t and run lodger push", build.ErrNotSupported)
	case "":
		return nil, fmt.Errorf("--output %q: no type: use type=docker, oci, tar or local", v)
	default:
		return nil, fmt.Errorf("--output type=%s: unknown type: use docker, oci, tar or local", x.Type)
	}
	if x.Dest == "" {
		return nil, fmt.Errorf("--output %q: no dest: give dest=FILE (dest=DIR for local, dest=- for standard output)", v)
	}
	if x.Type == build.ExportLocal && x.Dest == "-" {
		return nil, fmt.Errorf("--output %q: a local output is a directory; use type=tar for standard output", v)
	}
	return x, nil
}

// classicBuilder says DOCKER_BUILDKIT asks for Docker's classic builder
// (0 or false), whose lines lodger then prints.
func classicBuilder() bool {
	v, ok := os.LookupEnv("DOCKER_BUILDKIT")
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && !b
}

// parseSecret reads --secret as docker buildx does: id=ID with src=FILE
// (source=, type=file) or env=VAR (type=env); neither takes the
// environment variable named ID.
func parseSecret(v string) (string, build.Secret, error) {
	var id, typ, src, env string
	for _, f := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return "", build.Secret{}, fmt.Errorf("--secret %q: %q is not KEY=VALUE", v, f)
		}
		switch strings.ToLower(k) {
		case "id":
			id = val
		case "type":
			typ = val
		case "src", "source":
			src = val
		case "env":
			env = val
		default:
			return "", build.Secret{}, fmt.Errorf("--secret %q: unknown key %q (use id, type, src, env)", v, k)
		}
	}
	if id == "" {
		return "", build.Secret{}, fmt.Errorf("--secret %q: no id", v)
	}
	if typ == "env" && env == "" {
		env = src
		src = ""
	}
	if src == "" && env == "" {
		env = id
	}
	if src != "" {
		if _, err := os.Stat(src); err != nil {
			return "", build.Secret{}, fmt.Errorf("--secret %s: %w", id, err)
		}
		return id, build.Secret{Path: src}, nil
	}
	val, ok := os.LookupEnv(env)
	if !ok {
		return "", build.Secret{}, fmt.Errorf("--secret %s: the environment variable %s is not set", id, env)
	}
	return id, build.Secret{Data: []byte(val)}, nil
}
