package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lodger-containers/lodger/build"
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
}

func newBuildCommand() *cobra.Command {
	var o buildOptions
	cmd := &cobra.Command{
		Use:   "build [flags] CONTEXT|-",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from the Dockerfile in the directory CONTEXT (or the one -f
names; with -, stdin is a tar archive of the context, or a Dockerfile
alone) without a daemon: every RUN is a lodger container with run's
isolation and network, every step an image in lodger's storage. A step
whose parent image, instruction, build arguments and, for COPY and ADD,
copied content match an earlier build's is taken from the cache
(--no-cache builds everything afresh). The output is Docker's classic
builder's: Step N/M, Using cache, Successfully built ID, Successfully
tagged NAME. RUN takes --mount=type=cache|bind|tmpfs|secret and
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
			bo := build.Options{
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
			switch o.progress {
			case "", "auto", "plain", "tty":
			case "quiet":
				o.quiet = true
			default:
				return fmt.Errorf("--progress %q: use auto, plain, tty or quiet (lodger prints the classic builder's lines for all but quiet)", o.progress)
			}
			if !o.quiet {
				bo.Output = os.Stdout
				bo.PullProgress = os.Stderr
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
	f.StringVar(&o.progress, "progress", "auto", "output: auto, plain and tty print the classic builder's lines; quiet is -q")
	f.StringVar(&o.platform, "platform", "", "the platform to build for: only this machine's (linux/ARCH) for now")
	return sessionCommand(cmd, 1)
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
