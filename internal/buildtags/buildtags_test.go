package buildtags

import (
	"go/build/constraint"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// fileTags reads the tags from the file buildtags: its one line that is
// neither a comment nor empty.
func fileTags(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../buildtags")
	if err != nil {
		t.Fatal(err)
	}
	var list string
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			list = line
		}
	}
	if list == "" {
		t.Fatal("buildtags lists no tags")
	}
	return strings.Split(list, ",")
}

// TestGuardMatchesTheTags keeps guard.go in step with the file buildtags:
// the guard is left out exactly when every tag is set.
func TestGuardMatchesTheTags(t *testing.T) {
	tags := fileTags(t)
	list := strings.Join(tags, ",")
	g, err := os.ReadFile("guard.go")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(g), "\n")
	expr, err := constraint.Parse(first)
	if err != nil {
		t.Fatalf("guard.go's first line %q: %v", first, err)
	}
	with := func(missing string) bool {
		return expr.Eval(func(tag string) bool { return tag != missing && strings.Contains(","+list+",", ","+tag+",") })
	}
	if with("") {
		t.Errorf("guard.go (%s) is built with every tag of buildtags (%s): every build would fail", first, list)
	}
	for _, tag := range tags {
		if !with(tag) {
			t.Errorf("guard.go (%s) is left out of a build without %s: that build fails in cgo instead", first, tag)
		}
	}
}

// TestLintConfigHasTheTags: golangci-lint reads the tags from
// .golangci.yml, which YAML cannot take from the file buildtags; the two
// lists must be the same, or `make lint` checks another build than
// `make build` makes.
func TestLintConfigHasTheTags(t *testing.T) {
	want := fileTags(t)
	b, err := os.ReadFile("../../.golangci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Run struct {
			BuildTags []string `yaml:"build-tags"`
		} `yaml:"run"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".golangci.yml: %v", err)
	}
	if diff := cmp.Diff(want, cfg.Run.BuildTags); diff != "" {
		t.Errorf(".golangci.yml's run.build-tags differ from the file buildtags (-buildtags +.golangci.yml):\n%s", diff)
	}
}
