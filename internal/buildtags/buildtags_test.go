package buildtags

import (
	"go/build/constraint"
	"os"
	"strings"
	"testing"
)

// TestGuardMatchesTheTags keeps guard.go in step with the file buildtags:
// the guard is left out exactly when every tag is set.
func TestGuardMatchesTheTags(t *testing.T) {
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
	tags := strings.Split(list, ",")
	if list == "" || len(tags) == 0 {
		t.Fatal("buildtags lists no tags")
	}
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
