package build

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/patternmatcher"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/events"
	"github.com/lodger-containers/lodger/exec"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/image/transfer"
)

// defaultPath is the PATH BuildKit gives a stage that has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// historyComment is what BuildKit writes in the comment of each history
// entry of a Dockerfile build; Docker's own builds carry it.
const historyComment = "buildkit.dockerfile.v0"

// cacheMeta is what a build step's image keeps in its storage record.
type cacheMeta struct {
	BuildCacheKey string `json:"lodger.buildCacheKey"`
	Parent        string `json:"lodger.parent,omitempty"`
}

// stage is a stage being built.
type stage struct {
	index   int
	name    string
	imageID string // "" before the first layer of FROM scratch
	config  dockerspec.DockerOCIImage
	args    vars // the stage's ARGs with a value
	cmdSet  bool // a CMD of this stage's own, which ENTRYPOINT then keeps
}

// env is what words of the stage expand with: its ARGs, then its ENV,
// which wins.
func (s *stage) env() []string {
	out := s.args.list()
	return append(out, s.config.Config.Env...)
}

type builder struct {
	ctx    context.Context
	store  cstorage.Store
	o      Options
	df     *dockerfile
	ctxSrc *source
	rep    reporter
	bk     *buildkit         // rep, when the output is BuildKit's
	cache  map[string]string // cache key -> image ID
	global vars
	used   map[string]bool // build args consumed
	stages map[int]*stage
	report Report
	// The BuildKit numbering of the current stage's steps: its name,
	// the steps done and its count.
	vname          string
	vindex, vtotal int
}

// Build builds the image the Dockerfile in o describes and names it with
// o.Tags. A failed build leaves no container, mount or tag behind; the
// images of the steps that succeeded stay as the cache, as Docker's do.
func Build(ctx context.Context, store cstorage.Store, o Options) (rep *Report, err error) {
	b := &builder{ctx: ctx, store: store, o: o, used: map[string]bool{}, stages: map[int]*stage{}}
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	if o.Progress == ProgressClassic || o.Output == nil {
		b.rep = &classic{w: out}
	} else {
		b.bk = &buildkit{p: newVertices(out, o.Progress == ProgressTTY, o.TermSize)}
		b.bk.prefix = func() string {
			b.vindex++
			return stagePrefix(b.vname, b.vindex, b.vtotal)
		}
		b.rep = b.bk
	}
	defer func() {
		if err != nil && b.bk != nil && ctx.Err() != nil {
			b.rep.fail(errCanceled, nil)
		}
		b.rep.close()
	}()
	if o.ContextArchive != nil {
		cr := &countingReader{r: o.ContextArchive}
		dir, content, err := unpackContext(cr)
		if b.bk != nil && err == nil {
			b.rep.internal("load build context", "transferring context: "+humanBytes(cr.n)+" done")
		}
		if dir != "" {
			defer os.RemoveAll(dir)
		}
		if err != nil {
			return nil, err
		}
		o.ContextDir, o.ContextArchive = dir, nil
		if content != nil && o.DockerfileContent == nil {
			o.DockerfileContent, o.Dockerfile = content, ""
		} else if o.Dockerfile != "" && o.DockerfileContent == nil {
			// -f names a file inside the archive.
			o.Dockerfile = filepath.Join(dir, filepath.Clean("/"+o.Dockerfile))
		}
	}
	if o.ContextDir == "" {
		return nil, errors.New("no build context: give a directory")
	}
	fi, err := os.Stat(o.ContextDir)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("build context %s: %w: use a directory", o.ContextDir, ErrNotSupported)
	}
	ctxDir, err := filepath.Abs(o.ContextDir)
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, t := range o.Tags {
		named, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return nil, fmt.Errorf("invalid tag %q: %w", t, err)
		}
		if _, ok := named.(reference.Digested); ok {
			return nil, fmt.Errorf("invalid tag %q: a tag cannot name a digest", t)
		}
		tags = append(tags, reference.TagNameOnly(named).String())
	}
	switch o.PullPolicy {
	case "", PullMissing, PullAlways, PullNever:
	default:
		return nil, fmt.Errorf("--pull %q: use missing, always or never", o.PullPolicy)
	}
	switch o.Network {
	case "default", "bridge":
		o.Network = ""
	}

	dfName, content := o.Dockerfile, o.DockerfileContent
	if content == nil {
		if dfName == "" {
			dfName = filepath.Join(ctxDir, "Dockerfile")
		}
		if content, err = os.ReadFile(dfName); err != nil {
			return nil, fmt.Errorf("read Dockerfile: %w", err)
		}
	} else if dfName == "" {
		dfName = "Dockerfile"
	}
	df, err := parseDockerfile(filepath.Base(dfName), content)
	if err != nil {
		return nil, err
	}
	b.o = o
	if b.bk != nil {
		b.rep.internal("load build definition from "+filepath.Base(dfName), "transferring dockerfile: "+humanBytes(int64(len(content)))+" done")
		b.bk.p.df = dfSource{name: filepath.Base(dfName), content: content}
	}
	ignoreFor := ""
	if o.DockerfileContent == nil {
		ignoreFor = dfName
	}
	ignore, ignoreSize, err := readIgnore(ctxDir, ignoreFor)
	if err != nil {
		return nil, err
	}
	if b.bk != nil {
		b.rep.internal("load .dockerignore", "transferring context: "+humanBytes(ignoreSize)+" done")
	}
	src, err := openSource(ctxDir, ignore, true)
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	defer src.Close()

	b.df, b.ctxSrc = df, src
	if b.global, err = df.globalArgs(o.BuildArgs, b.used); err != nil {
		return nil, err
	}
	target, err := df.targetIndex(o.Target)
	if err != nil {
		return nil, err
	}
	needed := df.neededStages(target, b.global)
	extra := 0
	if len(o.Labels) > 0 {
		extra = 1
	}
	if c, ok := b.rep.(*classic); ok {
		c.total = df.stepCount(needed, extra)
	}
	if err := b.loadCache(); err != nil {
		return nil, err
	}
	for _, i := range needed {
		if err := b.buildStage(i, i == target); err != nil {
			return nil, err
		}
	}
	final := b.stages[target]
	if final.imageID == "" {
		// FROM scratch and nothing else: an image of no layer.
		if err := b.commit(final, "", nil, nil, nil); err != nil {
			return nil, err
		}
	}
	var unused []string
	for k := range o.BuildArgs {
		if !b.used[k] && !predefinedArgs[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		b.rep.warn(fmt.Sprintf("One or more build-args %v were not consumed", unused))
	}
	format := o.Format
	if format == "" {
		format = image.FormatDocker
	}
	id, dropped, err := image.Reformat(ctx, store, final.imageID, format)
	if err != nil {
		return nil, err
	}
	for _, d := range dropped {
		// podman's words for what the OCI format cannot hold.
		b.rep.warn(fmt.Sprintf("%s is not supported for OCI image format and will be ignored. Must use `docker` format", d))
	}
	b.rep.built(id)
	// BuildKit's last vertex: the image written, named and sent out.
	status := io.Discard
	if b.bk != nil {
		b.rep.step("", "exporting to image")
		status = b.rep.status()
	}
	fmt.Fprintln(status, "exporting layers done")
	fmt.Fprintf(status, "writing image sha256:%s done\n", id)
	if len(tags) > 0 {
		if _, err := image.Tag(store, id, tags...); err != nil {
			b.failed(err, nil)
			return nil, err
		}
		for _, t := range tags {
			named, _ := reference.ParseNormalizedNamed(t)
			b.report.Tags = append(b.report.Tags, reference.FamiliarString(named))
			fmt.Fprintf(status, "naming to %s done\n", t)
		}
	}
	if o.Export != nil {
		name := ""
		if len(tags) > 0 {
			name = tags[0]
		}
		if err := exportImage(ctx, store, o, id, name); err != nil {
			b.failed(err, nil)
			return nil, err
		}
		fmt.Fprintf(status, "sending %s output to %s done\n", o.Export.Type, o.Export.Dest)
	}
	if b.bk != nil {
		b.rep.committed(id)
	}
	b.rep.tagged(b.report.Tags)
	b.report.ImageID = "sha256:" + id
	return &b.report, nil
}

// predefinedArgs are the build args Docker accepts without an ARG.
var predefinedArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true, "ALL_PROXY": true, "all_proxy": true,
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// loadCache indexes the images earlier builds left by their step's key.
func (b *builder) loadCache() error {
	b.cache = map[string]string{}
	if b.o.NoCache {
		return nil
	}
	imgs, err := b.store.Images()
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	for _, img := range imgs {
		if !strings.Contains(img.Metadata, "lodger.buildCacheKey") {
			continue
		}
		var m cacheMeta
		if json.Unmarshal([]byte(img.Metadata), &m) == nil && m.BuildCacheKey != "" {
			b.cache[m.BuildCacheKey] = img.ID
		}
	}
	return nil
}

// vertexName is the name BuildKit gives the vertex of c, "" for the
// instructions it makes none for (those that change only the
// configuration).
func vertexName(c instructions.Command) string {
	switch c.(type) {
	case *instructions.RunCommand, *instructions.CopyCommand, *instructions.AddCommand, *instructions.WorkdirCommand:
	default:
		return ""
	}
	s := fmt.Sprint(c)
	word, rest, _ := strings.Cut(s, " ")
	return strings.ToUpper(word) + " " + rest
}

// buildStage runs one stage from its FROM.
func (b *builder) buildStage(i int, isTarget bool) error {
	ds := b.df.stages[i]
	st := &stage{index: i, name: ds.Name}
	b.stages[i] = st
	// BuildKit's numbering: the stage's name (stage-N when it has none,
	// nothing in a one-stage Dockerfile), its steps that make a vertex.
	b.vname, b.vindex, b.vtotal = ds.Name, 0, 0
	if b.vname == "" {
		b.vname = fmt.Sprintf("stage-%d", i)
	}
	if len(b.df.stages) == 1 {
		b.vname = ""
	}
	for _, c := range ds.Commands {
		if vertexName(c) != "" {
			b.vtotal++
		}
	}
	base, err := b.df.expand(ds.BaseName, b.global.list())
	if err != nil {
		return fmt.Errorf("%s: FROM %s: %w", b.df.name, ds.BaseName, err)
	}
	if ds.Platform != "" {
		p, err := b.df.expand(ds.Platform, b.global.list())
		if err != nil {
			return err
		}
		if want := "linux/" + runtime.GOARCH; p != want && p != "$BUILDPLATFORM" && p != "$TARGETPLATFORM" {
			return fmt.Errorf("FROM --platform=%s: %w: lodger builds for this machine's platform, %s", p, ErrNotSupported, want)
		}
	}
	fromVertex := ""
	pulled := false
	switch j := b.df.stageIndex(base, i); {
	case j >= 0:
		b.rep.step(ds.SourceCode, "")
		prev := b.stages[j]
		if prev == nil {
			return fmt.Errorf("stage %q was not built", base)
		}
		st.imageID, st.config = prev.imageID, cloneConfig(prev.config)
	case strings.EqualFold(base, "scratch"):
		b.rep.step(ds.SourceCode, "")
		// BuildKit's empty image.
		st.config = dockerspec.DockerOCIImage{Image: imgspecv1.Image{Platform: imgspecv1.Platform{OS: "linux", Architecture: runtime.GOARCH}}}
		st.config.Config.WorkingDir = "/"
	default:
		if b.bk == nil {
			b.rep.step(ds.SourceCode, "")
		}
		id, p, err := b.findImage(base)
		if err != nil {
			return err
		}
		pulled = p
		cfg, err := image.DockerConfig(b.ctx, b.store, id)
		if err != nil {
			return err
		}
		st.imageID, st.config = id, *cfg
		fromVertex = "FROM " + base
		if named, err := reference.ParseNormalizedNamed(base); err == nil {
			fromVertex = "FROM " + reference.TagNameOnly(named).String()
		}
		if img, err := b.store.Image(id); err == nil && img.Digest != "" && !strings.Contains(fromVertex, "@") {
			fromVertex += "@" + img.Digest.String()
		}
		b.vtotal++
	}
	if st.imageID != "" {
		b.rep.base(st.imageID)
	}
	// BuildKit makes sure every stage has a PATH.
	if !hasKey(st.config.Config.Env, "PATH") {
		st.config.Config.Env = append(st.config.Config.Env, "PATH="+defaultPath)
	}
	// The base's ONBUILD triggers run now and are not inherited further.
	triggers := st.config.Config.OnBuild
	var trigCmds []instructions.Command
	for _, t := range triggers {
		cmd, err := parseTrigger(b.df, t)
		if err != nil {
			return err
		}
		if vertexName(cmd) != "" {
			b.vtotal++
		}
		trigCmds = append(trigCmds, cmd)
	}
	if fromVertex != "" && b.bk != nil {
		// FROM's vertex, once the image is here and the stage's count
		// known (its triggers counted): CACHED when it was in storage
		// already, as BuildKit shows a base it need not fetch.
		b.rep.step(ds.SourceCode, fromVertex)
		if pulled || b.o.NoCache {
			b.rep.committed(st.imageID)
		} else {
			b.rep.cached(st.imageID)
		}
	}
	if len(triggers) > 0 {
		st.config.Config.OnBuild = nil
		b.rep.triggers(len(triggers))
		for _, cmd := range trigCmds {
			name := vertexName(cmd)
			if name != "" {
				name = "ONBUILD " + name
			}
			b.rep.step(fmt.Sprint(cmd), name)
			if err := b.dispatch(st, cmd); err != nil {
				b.failed(err, ds.Location)
				return err
			}
		}
	}
	for _, c := range ds.Commands {
		b.rep.step(fmt.Sprint(c), vertexName(c))
		if err := b.dispatch(st, c); err != nil {
			b.failed(err, c.Location())
			return err
		}
	}
	if isTarget && len(b.o.Labels) > 0 {
		keys := slices.Sorted(maps.Keys(b.o.Labels))
		var parts []string
		for _, k := range keys {
			parts = append(parts, strconv.Quote(k)+"="+strconv.Quote(b.o.Labels[k]))
		}
		line := "LABEL " + strings.Join(parts, " ")
		cmd, err := parseTrigger(b.df, line)
		if err != nil {
			return err
		}
		b.rep.step(line, "")
		if err := b.dispatch(st, cmd); err != nil {
			return err
		}
	}
	return nil
}

// failed tells the reporter a step failed (or was stopped).
func (b *builder) failed(err error, where []parser.Range) {
	if b.ctx.Err() != nil {
		b.rep.fail(errCanceled, nil)
		return
	}
	b.rep.fail(err, where)
}

// parseTrigger parses one instruction (an ONBUILD trigger, --label's
// LABEL) with BuildKit's parser.
func parseTrigger(df *dockerfile, line string) (instructions.Command, error) {
	d, err := parseDockerfile("ONBUILD", []byte("FROM scratch\n"+line+"\n"))
	if err != nil {
		return nil, err
	}
	cmds := d.stages[0].Commands
	if len(cmds) != 1 {
		return nil, fmt.Errorf("ONBUILD %s: not one instruction", line)
	}
	switch cmds[0].(type) {
	case *instructions.OnbuildCommand:
		return nil, errors.New("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
	}
	return cmds[0], nil
}

func cloneConfig(c dockerspec.DockerOCIImage) dockerspec.DockerOCIImage {
	b, _ := json.Marshal(c)
	var out dockerspec.DockerOCIImage
	_ = json.Unmarshal(b, &out)
	return out
}

// findImage finds or pulls a FROM image by the pull policy.
// pulled says it was pulled rather than found in storage.
func (b *builder) findImage(ref string) (id string, pulled bool, err error) {
	if b.o.PullPolicy != PullAlways {
		img, err := image.Lookup(b.store, ref, b.o.Pull)
		if err == nil {
			return img.ID, false, nil
		}
		if !errors.Is(err, image.ErrNotFound) {
			return "", false, err
		}
		if b.o.PullPolicy == PullNever {
			return "", false, fmt.Errorf("image %s is not in local storage, and --pull=never", ref)
		}
	}
	po := b.o.Pull
	po.Progress = b.o.PullProgress
	if b.bk != nil {
		// BuildKit's vertex for what it asks the registry.
		name := ref
		if named, err := reference.ParseNormalizedNamed(ref); err == nil {
			name = reference.TagNameOnly(named).String()
		}
		if b.bk.p.current() == nil {
			b.rep.step("", "[internal] load metadata for "+name)
		}
		po.Progress = b.rep.status()
	}
	id, err = transfer.Pull(b.ctx, b.store, ref, po)
	if err != nil {
		b.failed(err, nil)
		return "", false, err
	}
	if b.bk != nil && b.bk.p.current() != nil && strings.HasPrefix(b.bk.p.current().name, "[internal] load metadata") {
		b.rep.committed(id)
	}
	container.EmitPull(ref, id)
	return id, true, nil
}

// expander expands the words of instructions with the stage's variables.
func (b *builder) expander(st *stage) instructions.SingleWordExpander {
	env := st.env()
	return func(word string) (string, error) { return b.df.expand(word, env) }
}

// dispatch runs one instruction of st.
func (b *builder) dispatch(st *stage, c instructions.Command) error {
	if err := b.ctx.Err(); err != nil {
		return context.Cause(b.ctx)
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			if err := e.Expand(b.expander(st)); err != nil {
				return fmt.Errorf("%s: %s: %w", b.df.name, c.Name(), err)
			}
		}
	}
	// Heredoc content marked for expansion expands as BuildKit's does:
	// variables only, quotes left alone.
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		env := shell.EnvsFromSlice(st.env())
		err := e.ExpandRaw(func(word string) (string, error) {
			lex := shell.NewLex('\\')
			lex.SkipProcessQuotes = true
			w, _, err := lex.ProcessWord(word, env)
			return w, err
		})
		if err != nil {
			return fmt.Errorf("%s: %s: %w", b.df.name, c.Name(), err)
		}
	}
	cfg := cloneConfig(st.config)
	ic := &cfg.Config
	meta := func(createdBy string) error { return b.commit(st, createdBy, &cfg, nil, nil) }
	switch c := c.(type) {
	case *instructions.EnvCommand:
		parts := []string{"ENV"}
		for _, e := range c.Env {
			ic.Env = setEnv(ic.Env, e.Key, e.Value)
			parts = append(parts, e.String())
		}
		return meta(strings.Join(parts, " "))
	case *instructions.LabelCommand:
		parts := []string{"LABEL"}
		if ic.Labels == nil {
			ic.Labels = map[string]string{}
		}
		for _, l := range c.Labels {
			ic.Labels[l.Key] = l.Value
			parts = append(parts, l.String())
		}
		return meta(strings.Join(parts, " "))
	case *instructions.MaintainerCommand:
		cfg.Author = c.Maintainer
		return meta("MAINTAINER " + c.Maintainer)
	case *instructions.ArgCommand:
		var parts []string
		for _, a := range c.Args {
			v, has := "", false
			if bv, ok := b.o.BuildArgs[a.Key]; ok {
				v, has = bv, true
				b.used[a.Key] = true
			} else if a.Value != nil {
				v, has = *a.Value, true
			} else if gv, ok := b.global.get(a.Key); ok {
				v, has = gv, true
			}
			if has {
				st.args = st.args.set(a.Key, v)
				parts = append(parts, a.Key+"="+v)
			} else {
				parts = append(parts, a.Key)
			}
		}
		return meta("ARG " + strings.Join(parts, " "))
	case *instructions.WorkdirCommand:
		wd := c.Path
		if !path.IsAbs(wd) {
			cur := ic.WorkingDir
			if cur == "" {
				cur = "/"
			}
			wd = path.Join(cur, wd)
		}
		wd = path.Clean(wd)
		ic.WorkingDir = wd
		if wd == "/" {
			return meta("WORKDIR " + wd)
		}
		user := ic.User
		return b.fileStep(st, "WORKDIR "+wd, "", &cfg, func(rootfs string) error {
			return mkdirAs(rootfs, wd, user)
		})
	case *instructions.UserCommand:
		ic.User = c.User
		return meta("USER " + c.User)
	case *instructions.VolumeCommand:
		if ic.Volumes == nil {
			ic.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return errors.New("VOLUME specified can not be an empty string")
			}
			ic.Volumes[v] = struct{}{}
		}
		return meta(fmt.Sprintf("VOLUME %v", c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := container.ParseSignal(c.Signal); err != nil {
			return fmt.Errorf("STOPSIGNAL %s: %w", c.Signal, err)
		}
		ic.StopSignal = c.Signal
		return meta("STOPSIGNAL " + c.Signal)
	case *instructions.ShellCommand:
		ic.Shell = slices.Clone(c.Shell)
		return meta(fmt.Sprintf("SHELL %v", c.Shell))
	case *instructions.HealthCheckCommand:
		ic.Healthcheck = c.Health
		return meta(fmt.Sprintf("HEALTHCHECK %+v", *c.Health))
	case *instructions.OnbuildCommand:
		ic.OnBuild = append(ic.OnBuild, c.Expression)
		return b.commit(st, "", &cfg, nil, nil)
	case *instructions.CmdCommand:
		if len(c.Files) > 0 {
			return fmt.Errorf("CMD with a heredoc: %w", ErrNotSupported)
		}
		args := c.CmdLine
		if c.PrependShell {
			args = shellForm(ic.Shell, args)
		}
		ic.Cmd = args
		ic.ArgsEscaped = true //nolint:staticcheck // as BuildKit writes it
		st.cmdSet = true
		return meta(fmt.Sprintf("CMD %q", args))
	case *instructions.EntrypointCommand:
		args := c.CmdLine
		if c.PrependShell {
			args = shellForm(ic.Shell, args)
		}
		ic.Entrypoint = args
		if !st.cmdSet {
			ic.Cmd = nil
		}
		return meta(fmt.Sprintf("ENTRYPOINT %q", args))
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			words, err := b.df.lex.ProcessWords(p, shell.EnvsFromSlice(st.env()))
			if err != nil {
				return err
			}
			for _, w := range words {
				ps, err := exposePorts(w)
				if err != nil {
					return fmt.Errorf("EXPOSE %s: %w", w, err)
				}
				ports = append(ports, ps...)
			}
		}
		if ic.ExposedPorts == nil {
			ic.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			ic.ExposedPorts[p] = struct{}{}
		}
		return meta(fmt.Sprintf("EXPOSE %v", ports))
	case *instructions.RunCommand:
		return b.run(st, c, &cfg)
	case *instructions.CopyCommand:
		return b.copy(st, &c.SourcesAndDest, "COPY", c.From, c.Chown, c.Chmod, "", c.ExcludePatterns, c.Parents, &cfg)
	case *instructions.AddCommand:
		if c.KeepGitDir != nil {
			return fmt.Errorf("ADD --keep-git-dir: %w", ErrNotSupported)
		}
		return b.copy(st, &c.SourcesAndDest, "ADD", "", c.Chown, c.Chmod, c.Checksum, c.ExcludePatterns, false, &cfg)
	}
	return fmt.Errorf("%s: %w", c.Name(), ErrNotSupported)
}

// commit makes the image of a step from st's image: cfg is the
// configuration after it (nil: unchanged), createdBy its history entry
// (empty: none). layer, when not nil, makes the step's layer after a
// cache miss; it returns nil for a step that changed no file. extra is
// cache key material beyond the parent and the entry.
func (b *builder) commit(st *stage, createdBy string, cfg *dockerspec.DockerOCIImage, extra *string, layer func() (io.ReadCloser, error)) error {
	if cfg == nil {
		c := cloneConfig(st.config)
		cfg = &c
	}
	x := ""
	if extra != nil {
		x = *extra
	}
	// A configuration-only step without a history entry (ONBUILD) is
	// keyed by the configuration it writes.
	if createdBy == "" {
		blob, _ := json.Marshal(cfg.Config)
		x += string(blob)
	}
	k := key(st.imageID, createdBy, x)
	if id, ok := b.cache[k]; ok && !b.o.NoCache {
		if c, err := image.DockerConfig(b.ctx, b.store, id); err == nil {
			b.rep.cached(id)
			st.imageID, st.config = id, *c
			b.report.Steps = append(b.report.Steps, Step{Instruction: createdBy, ImageID: id, Cached: true})
			b.report.CacheHits++
			return nil
		}
	}
	var rc io.ReadCloser
	if layer != nil {
		var err error
		if rc, err = layer(); err != nil {
			return err
		}
		if rc != nil {
			defer rc.Close()
		}
	}
	var h *imgspecv1.History
	if createdBy != "" {
		entry := createdBy
		if layer != nil && !strings.HasPrefix(createdBy, "WORKDIR ") {
			entry += " # buildkit"
		}
		h = &imgspecv1.History{CreatedBy: entry, Comment: historyComment}
	}
	meta, _ := json.Marshal(cacheMeta{BuildCacheKey: k, Parent: st.imageID})
	var r io.Reader
	if rc != nil {
		r = rc
	}
	id, err := image.CommitStep(b.ctx, b.store, r, image.StepOptions{
		Parent: st.imageID, Config: *cfg, History: h, Metadata: string(meta),
	})
	if err != nil {
		return err
	}
	c, err := image.DockerConfig(b.ctx, b.store, id)
	if err != nil {
		return err
	}
	b.rep.committed(id)
	st.imageID, st.config = id, *c
	b.cache[k] = id
	b.report.Steps = append(b.report.Steps, Step{Instruction: createdBy, ImageID: id})
	return nil
}

// workContainer makes a container of st's image that no process runs in,
// for COPY, ADD and WORKDIR to change files in, and returns its ID and
// mounted root; done unmounts and removes it.
func (b *builder) workContainer(st *stage, what string) (id, rootfs string, done func(), err error) {
	id = newID()
	meta, _ := json.Marshal(container.Metadata{Image: st.imageID, ImageID: st.imageID, Command: []string{what}, Created: time.Now().UTC()})
	if _, err := b.store.CreateContainer(id, []string{"lodger-build-" + id[:12]}, st.imageID, "", string(meta), nil); err != nil {
		return "", "", nil, fmt.Errorf("create build container: %w", err)
	}
	done = func() {
		_, _ = b.store.Unmount(id, true)
		_ = b.store.DeleteContainer(id)
	}
	rootfs, err = b.store.Mount(id, "")
	if err != nil {
		done()
		return "", "", nil, fmt.Errorf("mount build container: %w", err)
	}
	return id, rootfs, done, nil
}

// fileStep is a step that changes files of st's image with fn, run in a
// work container on a cache miss.
func (b *builder) fileStep(st *stage, createdBy, extra string, cfg *dockerspec.DockerOCIImage, fn func(rootfs string) error) error {
	var done func()
	defer func() {
		if done != nil {
			done()
		}
	}()
	layer := func() (io.ReadCloser, error) {
		id, rootfs, d, err := b.workContainer(st, createdBy)
		if err != nil {
			return nil, err
		}
		done = d
		if err := fn(rootfs); err != nil {
			return nil, err
		}
		if _, err := b.store.Unmount(id, true); err != nil {
			return nil, fmt.Errorf("unmount build container: %w", err)
		}
		return container.StepChanges(b.store, id)
	}
	return b.commit(st, createdBy, cfg, &extra, layer)
}

// mkdirAs makes dir in rootfs when it is missing, owned by user
// (resolved in the image), as BuildKit's WORKDIR does; its missing
// parents are root's.
func mkdirAs(rootfs, dir, user string) error {
	if fi, err := container.StatInRoot(rootfs, dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("WORKDIR %s: not a directory", dir)
		}
		return nil
	}
	u, err := exec.ResolveUser(rootfs, user)
	if err != nil {
		return err
	}
	r, w := io.Pipe()
	parent, base := path.Split(dir)
	go func() {
		tw := tar.NewWriter(w)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: base + "/", Mode: 0o755,
			Uid: int(u.User.UID), Gid: int(u.User.GID), ModTime: time.Now()})
		if err == nil {
			err = tw.Close()
		}
		w.CloseWithError(err)
	}()
	err = container.ExtractToRoot(rootfs, parent, r)
	r.Close()
	return err
}

// mkdirAllAs makes the missing directories of dir in rootfs, 0755 and
// owned by uid:gid, one at a time inside the root.
func mkdirAllAs(rootfs, dir string, uid, gid int) error {
	if dir == "/" || dir == "." {
		return nil
	}
	if fi, err := container.StatInRoot(rootfs, dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", dir)
		}
		return nil
	}
	if err := mkdirAllAs(rootfs, path.Dir(dir), uid, gid); err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: path.Base(dir) + "/", Mode: 0o755, Uid: uid, Gid: gid, ModTime: time.Now()})
	_ = tw.Close()
	return container.ExtractToRoot(rootfs, path.Dir(dir), &buf)
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run is RUN: a lodger container on st's image, its changes the layer.
func (b *builder) run(st *stage, c *instructions.RunCommand, cfg *dockerspec.DockerOCIImage) error {
	for _, f := range c.FlagsUsed {
		if f != "mount" && f != "network" {
			return fmt.Errorf("RUN --%s: %w", f, ErrNotSupported)
		}
	}
	if err := c.Expand(b.expander(st)); err != nil {
		return fmt.Errorf("%s: RUN: %w", b.df.name, err)
	}
	network := b.o.Network
	switch n := instructions.GetNetwork(c); n {
	case "", instructions.NetworkDefault:
	default:
		network = n
	}
	if st.imageID == "" {
		return errors.New("RUN in a stage FROM scratch with no files: there is nothing to run")
	}
	args, script, err := runArgs(c)
	if err != nil {
		return err
	}
	if c.PrependShell {
		args = shellForm(st.config.Config.Shell, args)
	}
	var mounts container.MountOptions
	if script != nil {
		// A heredoc with a shebang runs as a script of its own, mounted
		// read-only at /dev/pipes as BuildKit does.
		dir, err := os.MkdirTemp("", "lodger-build-heredoc-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, script.name), []byte(script.data), 0o755); err != nil {
			return err
		}
		mounts.List = []container.Mount{{Type: container.MountBind, Source: dir, Destination: "/dev/pipes", ReadOnly: true, Origin: "the build's pipes"}}
	}
	var secretEnv []string
	mountKey, releaseMounts, err := b.runMounts(st, c, &mounts, &secretEnv)
	if err != nil {
		return err
	}
	defer releaseMounts()
	// The stage's ARGs are the command's environment, under its ENV, and
	// part of its history entry (|N KEY=VALUE), so of its cache key.
	var argEnv, argParts []string
	for _, a := range st.args {
		argParts = append(argParts, a.key+"="+a.value)
		if !hasKey(st.config.Config.Env, a.key) {
			argEnv = append(argEnv, a.key+"="+a.value)
		} else {
			// What the command sees is the ENV value.
			for _, e := range st.config.Config.Env {
				if k, v, _ := strings.Cut(e, "="); k == a.key {
					argParts[len(argParts)-1] = a.key + "=" + v
				}
			}
		}
	}
	createdBy := "RUN "
	if len(argParts) > 0 {
		createdBy += fmt.Sprintf("|%d %s ", len(argParts), strings.Join(argParts, " "))
	}
	createdBy += strings.Join(args, " ")
	var ctrID string
	remove := func() {
		if ctrID != "" {
			_, _ = b.store.Unmount(ctrID, true)
			if err := b.store.DeleteContainer(ctrID); err == nil {
				container.Journal().Emit(events.Container, "destroy", ctrID, nil)
			}
			b.rep.removed(ctrID)
			ctrID = ""
		}
	}
	defer remove()
	layer := func() (io.ReadCloser, error) {
		out, stop, err := outputFile(b.rep.output())
		if err != nil {
			return nil, err
		}
		defer stop()
		sigs := make(chan os.Signal, 1)
		stopWatch := context.AfterFunc(b.ctx, func() { sigs <- syscall.SIGKILL })
		defer stopWatch()
		code, err := container.Run(b.ctx, b.store, container.RunOptions{
			Image:      st.imageID,
			Args:       args,
			Entrypoint: []string{}, // cleared: RUN's args are the whole command
			Env:        append(slices.Clone(argEnv), secretEnv...),
			Mounts:     mounts,
			Network:    network,
			Health:     container.HealthOptions{None: true},
			LogDriver:  "none",
			PullPolicy: container.PullNever,
			Storage:    b.o.Storage,
			Pull:       b.o.Pull,
			Signals:    sigs,
			Stdout:     out,
			Stderr:     out,
			Created: func(id string) {
				ctrID = id
				b.rep.running(id)
			},
		})
		stop()
		if b.ctx.Err() != nil {
			return nil, context.Cause(b.ctx)
		}
		if err != nil || code != 0 {
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) && ctrID == "" {
				return nil, fmt.Errorf("RUN: %w", err)
			}
			return nil, &RunError{Command: strings.Join(args, " "), Code: code, Err: err}
		}
		// The changes are spooled: the container can go before the
		// layer is stored.
		rc, err := container.StepChanges(b.store, ctrID)
		remove()
		return rc, err
	}
	// What the mounts bring in is part of the key, as is a network other
	// than the build's.
	extra := mountKey + "\x00" + network
	return b.commit(st, createdBy, cfg, &extra, layer)
}

func hasKey(env []string, key string) bool {
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			return true
		}
	}
	return false
}

// outputFile is a file RUN containers write to that reaches w; stop
// waits until everything written reached it.
func outputFile(w io.Writer) (*os.File, func(), error) {
	if f, ok := w.(*os.File); ok {
		return f, func() {}, nil
	}
	if w == io.Discard {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return nil, nil, err
		}
		return f, func() { f.Close() }, nil
	}
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(w, r)
		r.Close()
		close(done)
	}()
	stopped := false
	return pw, func() {
		if !stopped {
			stopped = true
			pw.Close()
			<-done
		}
	}, nil
}

// copy is COPY and ADD.
func (b *builder) copy(st *stage, sd *instructions.SourcesAndDest, instr, from, chown, chmod, checksum string, exclude []string, parents bool, cfg *dockerspec.DockerOCIImage) error {
	mode, err := parseChmod(chmod)
	if err != nil {
		return err
	}
	src := b.ctxSrc
	fromLabel, fromID := "", ""
	if from != "" {
		id, err := b.fromImage(st, from)
		if err != nil {
			return err
		}
		if id == "" {
			return fmt.Errorf("%s --from=%s: the stage has no files", instr, from)
		}
		// An image's files are fixed by its ID: the ID and the source
		// paths key the step, and the image is mounted only when the
		// step runs (a cache hit mounts nothing).
		fromLabel, fromID = "--from="+id, id
	}
	var tops []match
	// ADD's URLs are downloaded first, into a directory of their own:
	// their content is part of the cache key.
	var urls []match
	var urlSrc *source
	for _, p := range sd.SourcePaths {
		if instr != "ADD" || !isURL(p) {
			continue
		}
		if strings.HasPrefix(p, "git@") || strings.HasSuffix(strings.SplitN(p, "?", 2)[0], ".git") {
			return fmt.Errorf("ADD %s: git sources are %w; clone it beside the Dockerfile", p, ErrNotSupported)
		}
		if urlSrc == nil {
			dir, err := os.MkdirTemp("", "lodger-build-add-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if urlSrc, err = openSource(dir, nil, false); err != nil {
				return err
			}
			defer urlSrc.Close()
		}
		name, err := download(b.ctx, p, urlSrc.dir, len(urls), checksum)
		if err != nil {
			return fmt.Errorf("ADD %s: %w", p, err)
		}
		urls = append(urls, match{rel: fmt.Sprintf("%d/%s", len(urls), name), base: name})
	}
	if checksum != "" && (len(urls) != 1 || len(sd.SourcePaths) != 1) {
		return errors.New("ADD --checksum needs one source, and an http or https URL")
	}
	resolveTops := func(src *source) ([]match, error) {
		var tops []match
		for _, p := range sd.SourcePaths {
			if instr == "ADD" && isURL(p) {
				continue
			}
			ms, err := src.resolve(instr, p)
			if err != nil {
				return nil, err
			}
			if pre, _, ok := strings.Cut(p, "/./"); ok && parents {
				// --parents keeps the path below the /./ pivot only.
				pre = strings.TrimPrefix(path.Clean("/"+pre), "/")
				for i := range ms {
					ms[i].path = strings.TrimPrefix(ms[i].path, pre+"/")
				}
			}
			tops = append(tops, ms...)
		}
		return tops, nil
	}
	if fromID == "" {
		if tops, err = resolveTops(src); err != nil {
			return err
		}
	}
	dest := sd.DestPath
	wd := cfg.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if !path.IsAbs(dest) {
		dest = path.Join(wd, dest) + map[bool]string{true: "/", false: ""}[strings.HasSuffix(sd.DestPath, "/") || sd.DestPath == "."]
	}
	// Owners: --chown names are looked up in the image's own files, so
	// the work container is needed to know them; numbers need no lookup.
	meta := copyMeta{chmod: mode}
	if len(exclude) > 0 {
		if meta.exclude, err = patternmatcher.New(exclude); err != nil {
			return fmt.Errorf("%s --exclude: %w", instr, err)
		}
	}
	if chown != "" {
		if meta.uid, meta.gid, err = numericChown(chown); err != nil && st.imageID != "" {
			dir, err := b.store.MountImage(st.imageID, nil, "")
			if err != nil {
				return fmt.Errorf("mount image %s: %w", short(st.imageID), err)
			}
			u, rerr := exec.ResolveUser(dir, chown)
			_, _ = b.store.UnmountImage(st.imageID, true)
			if rerr != nil {
				return fmt.Errorf("%s --chown=%s: %w", instr, chown, rerr)
			}
			meta.uid, meta.gid = int(u.User.UID), int(u.User.GID)
		} else if err != nil {
			return fmt.Errorf("%s --chown=%s: %w", instr, chown, err)
		}
	}
	inline := sd.SourceContents
	unpack := instr == "ADD"
	keyName := func(m match) string {
		if parents {
			return m.path
		}
		return m.base
	}
	var digest string
	if fromID == "" {
		if digest, err = src.digest(tops, meta, keyName); err != nil {
			return fmt.Errorf("%s: %w", instr, err)
		}
	} else {
		// The image's ID (in fromLabel) and what is asked of it.
		digest = fmt.Sprintf("from %q exclude %q", sd.SourcePaths, exclude)
	}
	for _, c := range inline {
		h := sha256.Sum256([]byte(c.Data))
		digest += fmt.Sprintf(" <<%s:%x", c.Path, h)
	}
	if len(urls) > 0 {
		d, err := urlSrc.digest(urls, meta, func(m match) string { return m.base })
		if err != nil {
			return fmt.Errorf("%s: %w", instr, err)
		}
		digest += " urls:" + d
	}
	var parts []string
	parts = append(parts, instr)
	if parents {
		parts = append(parts, "--parents")
	}
	if chown != "" {
		parts = append(parts, "--chown="+chown)
	}
	if chmod != "" {
		parts = append(parts, "--chmod="+chmod)
	}
	parts = append(parts, sd.SourcePaths...)
	for _, c := range inline {
		parts = append(parts, "<<"+c.Path)
	}
	parts = append(parts, sd.DestPath)
	createdBy := strings.Join(parts, " ")
	extra := fromLabel + "\x00" + digest + "\x00" + dest
	return b.fileStep(st, createdBy, extra, cfg, func(rootfs string) error {
		src, tops := src, tops
		if fromID != "" {
			dir, err := b.store.MountImage(fromID, nil, "")
			if err != nil {
				return fmt.Errorf("mount image %s: %w", short(fromID), err)
			}
			defer func() { _, _ = b.store.UnmountImage(fromID, true) }()
			if src, err = openSource(dir, nil, false); err != nil {
				return err
			}
			defer src.Close()
			if tops, err = resolveTops(src); err != nil {
				return err
			}
		}
		manySources := len(tops)+len(inline)+len(urls) > 1
		destIsDir := strings.HasSuffix(dest, "/") || manySources || parents
		if !destIsDir {
			if fi, err := container.StatInRoot(rootfs, dest); err == nil && fi.IsDir() {
				destIsDir = true
			}
		}
		// New directories on the way belong to --chown's user, as
		// Docker documents it (0755).
		if meta.uid != 0 || meta.gid != 0 {
			dir := dest
			if !destIsDir {
				dir = path.Dir(dest)
			}
			if err := mkdirAllAs(rootfs, path.Clean(dir), meta.uid, meta.gid); err != nil {
				return fmt.Errorf("%s: %w", instr, err)
			}
		}
		for _, t := range tops {
			info, err := src.root.Lstat(t.rel)
			if err != nil {
				return err
			}
			if unpack && info.Mode().IsRegular() {
				if ok, err := b.unpackArchive(src, t.rel, rootfs, dest); err != nil || ok {
					if err != nil {
						return fmt.Errorf("%s %s: %w", instr, t.base, err)
					}
					continue
				}
			}
			dir, name := dest, t.base
			switch {
			case parents:
				// The source's path below the context (or below a /./
				// in the argument) is kept under the destination.
				dir = path.Join(dest, path.Dir(t.path))
				if info.IsDir() {
					dir, name = path.Join(dest, t.path), "."
				}
			case info.IsDir():
				name = "."
			case !destIsDir:
				dir, name = path.Split(dest)
			}
			if err := b.extract(src, t.rel, name, meta, rootfs, dir); err != nil {
				return fmt.Errorf("%s %s: %w", instr, t.base, err)
			}
		}
		// A downloaded file is copied as it is (0600 unless --chmod,
		// its Last-Modified time), never unpacked.
		for _, t := range urls {
			dir, name := dest, t.base
			if !destIsDir {
				dir, name = path.Split(dest)
			}
			if err := b.extract(urlSrc, t.rel, name, meta, rootfs, dir); err != nil {
				return fmt.Errorf("%s %s: %w", instr, t.base, err)
			}
		}
		// A heredoc is a file of its own (0644 unless --chmod), as
		// BuildKit makes it.
		for _, c := range inline {
			dir, name := dest, path.Base(c.Path)
			if !destIsDir {
				dir, name = path.Split(dest)
			}
			mode := int64(0o644)
			if meta.chmod != nil {
				mode = int64(*meta.chmod)
			}
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(c.Data)), Mode: mode,
				Uid: meta.uid, Gid: meta.gid, ModTime: time.Now()})
			_, _ = tw.Write([]byte(c.Data))
			_ = tw.Close()
			if err := container.ExtractToRoot(rootfs, dir, &buf); err != nil {
				return fmt.Errorf("%s <<%s: %w", instr, c.Path, err)
			}
		}
		return nil
	})
}

// extract copies top from src into dir of rootfs, named name there.
func (b *builder) extract(src *source, top, name string, meta copyMeta, rootfs, dir string) error {
	r, w := io.Pipe()
	go func() { w.CloseWithError(src.writeTar(w, top, name, meta)) }()
	err := container.ExtractToRoot(rootfs, dir, r)
	r.CloseWithError(errors.New("extraction ended"))
	return err
}

// unpackArchive unpacks a local tar archive (plain, gzip, bzip2, xz or
// zstd) into dir, as ADD does; false when rel is not one.
func (b *builder) unpackArchive(src *source, rel, rootfs, dir string) (bool, error) {
	f, err := src.root.Open(rel)
	if err != nil {
		return false, err
	}
	defer f.Close()
	if !isArchive(f) {
		return false, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	rd, err := archive.DecompressStream(f)
	if err != nil {
		return false, err
	}
	defer rd.Close()
	return true, container.ExtractToRoot(rootfs, dir, rd)
}

// fromImage is the image COPY --from names: an earlier stage's, or an
// image found or pulled.
func (b *builder) fromImage(st *stage, from string) (string, error) {
	if j := b.df.stageIndex(from, st.index); j >= 0 {
		prev := b.stages[j]
		if prev == nil {
			return "", fmt.Errorf("COPY --from=%s: stage not built", from)
		}
		return prev.imageID, nil
	}
	if strings.EqualFold(from, st.name) && st.name != "" {
		return "", fmt.Errorf("COPY --from=%s: a stage cannot copy from itself", from)
	}
	id, _, err := b.findImage(from)
	return id, err
}

// numericChown reads UID[:GID] given as numbers.
func numericChown(v string) (int, int, error) {
	u, g, hasG := strings.Cut(v, ":")
	uid, err := strconv.Atoi(u)
	if err != nil {
		return 0, 0, err
	}
	gid := uid
	if hasG {
		if gid, err = strconv.Atoi(g); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}
