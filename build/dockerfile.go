package build

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// dockerfile is a parsed Dockerfile.
type dockerfile struct {
	name     string // for messages
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	lex      *shell.Lex
}

// parseDockerfile reads a Dockerfile with BuildKit's parser, as Docker's
// frontend does: directives (escape), heredocs, line continuations, and
// an error naming the line for an unknown instruction or a bad flag.
func parseDockerfile(name string, content []byte) (*dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no build stage: a Dockerfile starts with FROM (after ARGs)", name)
	}
	return &dockerfile{name: name, stages: stages, metaArgs: metaArgs, lex: shell.NewLex(res.EscapeToken)}, nil
}

// kv is one variable in scope, in declaration order.
type kv struct{ key, value string }

// vars is an ordered set of variables, later ones replacing earlier ones.
type vars []kv

func (v vars) set(key, value string) vars {
	for i := range v {
		if v[i].key == key {
			v[i].value = value
			return v
		}
	}
	return append(v, kv{key, value})
}

func (v vars) get(key string) (string, bool) {
	for _, e := range v {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

func (v vars) list() []string {
	out := make([]string, 0, len(v))
	for _, e := range v {
		out = append(out, e.key+"="+e.value)
	}
	return out
}

// globalArgs evaluates the ARGs before the first FROM: a --build-arg
// value, else the default expanded with the args before it. An ARG with
// neither has no value. used collects the build args consumed.
func (d *dockerfile) globalArgs(buildArgs map[string]string, used map[string]bool) (vars, error) {
	var g vars
	for _, a := range d.metaArgs {
		for _, arg := range a.Args {
			if v, ok := buildArgs[arg.Key]; ok {
				used[arg.Key] = true
				g = g.set(arg.Key, v)
				continue
			}
			if arg.Value == nil {
				continue
			}
			v, _, err := d.lex.ProcessWord(*arg.Value, shell.EnvsFromSlice(g.list()))
			if err != nil {
				return nil, fmt.Errorf("%s: ARG %s: %w", d.name, arg.Key, err)
			}
			g = g.set(arg.Key, v)
		}
	}
	return g, nil
}

// expand expands word with env as Docker's shell rules do.
func (d *dockerfile) expand(word string, env []string) (string, error) {
	s, _, err := d.lex.ProcessWord(word, shell.EnvsFromSlice(env))
	return s, err
}

// stageIndex finds the stage a FROM or --from names: an earlier stage's
// name (case-insensitive) or its number. -1 when it is an image.
func (d *dockerfile) stageIndex(ref string, before int) int {
	for i := 0; i < before && i < len(d.stages); i++ {
		if d.stages[i].Name != "" && strings.EqualFold(d.stages[i].Name, ref) {
			return i
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < before {
		return n
	}
	return -1
}

// targetIndex is the stage --target names, the last one when empty.
func (d *dockerfile) targetIndex(target string) (int, error) {
	if target == "" {
		return len(d.stages) - 1, nil
	}
	for i, s := range d.stages {
		if strings.EqualFold(s.Name, target) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("target stage %q could not be found in %s", target, d.name)
}

// neededStages lists, in order, the stages the target needs: itself, its
// FROM stage and the stages its COPY --from name, transitively. A stage
// nothing needs is not built, as BuildKit skips it. Names are compared
// after expanding the global args.
func (d *dockerfile) neededStages(target int, global vars) []int {
	need := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		s := d.stages[i]
		if base, err := d.expand(s.BaseName, global.list()); err == nil {
			if j := d.stageIndex(base, i); j >= 0 {
				visit(j)
			}
		}
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				from, err := d.expand(cp.From, global.list())
				if err != nil {
					from = cp.From
				}
				if j := d.stageIndex(from, i); j >= 0 {
					visit(j)
				}
			}
		}
	}
	visit(target)
	var out []int
	for i := range d.stages {
		if need[i] {
			out = append(out, i)
		}
	}
	return out
}

// stepCount is what Step N/M counts: every FROM and instruction of the
// stages built.
func (d *dockerfile) stepCount(stages []int, extra int) int {
	n := extra
	for _, i := range stages {
		n += 1 + len(d.stages[i].Commands)
	}
	return n
}

// shellForm prepends the stage's shell to a shell-form command line, as
// Docker does for RUN, CMD and ENTRYPOINT.
func shellForm(shellCmd []string, cmdLine []string) []string {
	sh := slices.Clone(shellCmd)
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(sh, strings.Join(cmdLine, " "))
}

// heredocScript is a RUN heredoc that starts with #!.
type heredocScript struct{ name, data string }

// runArgs is RUN's command line before the shell, heredocs applied as
// BuildKit applies them: one heredoc alone is the shell's script (or,
// starting with #!, a script file of its own); anything more is handed to
// the shell whole.
func runArgs(c *instructions.RunCommand) ([]string, *heredocScript, error) {
	args := c.CmdLine
	if len(c.Files) == 0 {
		return args, nil, nil
	}
	if len(args) != 1 || !c.PrependShell {
		return nil, nil, fmt.Errorf("parsing produced an invalid run command: %v", args)
	}
	if h := parser.MustParseHeredoc(args[0]); h != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			name := path.Base(c.Files[0].Name)
			return []string{path.Join("/dev/pipes", name)}, &heredocScript{name: name, data: data}, nil
		}
		return []string{data}, nil, nil
	}
	var sb strings.Builder
	sb.WriteString(args[0])
	for _, f := range c.Files {
		sb.WriteByte('\n')
		sb.WriteString(f.Data)
		sb.WriteString(f.Name)
	}
	return []string{sb.String()}, nil, nil
}
