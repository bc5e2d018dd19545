// Package layering holds no code: its test checks the import rules that
// docs/architecture.md states, so that a change that breaks them fails
// `make test` instead of waiting for a reviewer.
//
//   - lodger-monitor, which stays with every detached container,
//     lodger-session, which every user keeps running, and lodger-socket,
//     which holds an idle API service's socket, link no storage, image,
//     build or API code and no CLI framework: what they map is what an
//     idle container, an idle user and an idle service cost.
//   - lodger, the binary every command starts, links no registry, copy,
//     signature, build or API code: lodger-transfer (cmd/lodger built
//     with the lodger_transfer tag) does, and lodger hands it the
//     commands that need them.
//   - lodger-transfer links only the image transports lodger accepts: not
//     containers/image's alltransports, whose docker-daemon transport
//     brings the moby client and OpenTelemetry.
//   - Libraries never import cobra or pflag: the flag grammar lives in
//     cmd/ (style.md, rules 2 and 14).
//   - The API server and the CLI are two front ends over the same
//     library: neither imports the other.
//
// golangci-lint's depguard (.golangci.yml, `make lint`) states the same
// rules for each file's direct imports and names the line at once; this
// test checks what each program links through all its dependencies, which
// depguard cannot see (a third-party package that brings in storage).
// Keep both.
package layering

import (
	"bufio"
	"bytes"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const module = "github.com/lodger-containers/lodger"

// deps lists the packages pkg links (go list -deps), with lodger's tags
// and extra.
func deps(t *testing.T, pkg string, extra ...string) []string {
	t.Helper()
	return goListTags(t, extra, "-deps", pkg)
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	return goListTags(t, nil, args...)
}

func goListTags(t *testing.T, extra []string, args ...string) []string {
	t.Helper()
	tags, err := os.ReadFile(filepath.Join(root(t), "buildtags"))
	if err != nil {
		t.Fatal(err)
	}
	var tagList []string
	for _, l := range strings.Split(string(tags), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			tagList = append(tagList, l)
		}
	}
	tagList = append(tagList, extra...)
	cmd := osexec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), append([]string{"list", "-tags=" + strings.Join(tagList, ",")}, args...)...)
	cmd.Dir = root(t)
	// GOFLAGS from make carries the same tags; a second -tags is an error.
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pkgs = append(pkgs, sc.Text())
	}
	return pkgs
}

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// forbidden returns the packages of pkgs that match any of the prefixes.
func forbidden(pkgs []string, prefixes ...string) []string {
	var bad []string
	for _, p := range pkgs {
		for _, f := range prefixes {
			if p == f || strings.HasPrefix(p, f+"/") {
				bad = append(bad, p)
				break
			}
		}
	}
	return bad
}

func TestLongLivedProcessesLinkNoImageCode(t *testing.T) {
	heavy := []string{
		"go.podman.io/storage",
		"go.podman.io/image/v5",
		"github.com/moby/buildkit",
		"github.com/spf13/cobra",
		"github.com/spf13/pflag",
		module + "/storage",
		module + "/image",
		module + "/build",
		module + "/api",
		module + "/cmd/lodger",
	}
	for _, bin := range []string{"cmd/lodger-monitor", "cmd/lodger-session", "cmd/lodger-socket"} {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			if bad := forbidden(deps(t, "./"+bin), heavy...); len(bad) > 0 {
				t.Errorf("%s links %q: it must stay small (see docs/architecture.md, Layout)", bin, bad)
			}
		})
	}
}

// transferTag builds cmd/lodger as lodger-transfer.
const transferTag = "lodger_transfer"

// transferOnly are the packages only lodger-transfer links: the registry
// transport (its docker/reference, which names images, is lodger's too),
// copy and signature with what they bring (ocicrypt's key providers,
// grpc, protobuf, sigstore, OpenPGP), buildkit, and lodger's transfer,
// build and API packages.
var transferOnly = []string{
	"go.podman.io/image/v5/copy",
	"go.podman.io/image/v5/signature",
	"github.com/containers/ocicrypt",
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
	"github.com/sigstore",
	"github.com/ProtonMail/go-crypto",
	"github.com/moby/buildkit",
	module + "/image/transfer",
	module + "/build",
	module + "/api",
}

// allowedInLean are packages under transferOnly's prefixes that lodger
// may link: ocicrypt's media type names (containers/image's manifest
// package uses them) and the API versions `lodger version` prints.
var allowedInLean = []string{
	"github.com/containers/ocicrypt/spec",
	module + "/api/apiversion",
}

// TestLeanCLILinksNoTransferCode: every lodger command pays its packages'
// initialisation (docs/architecture.md, "Start-up"), half of which was
// the registry client's, copy's, signature's and the builder's before
// they moved to lodger-transfer.
func TestLeanCLILinksNoTransferCode(t *testing.T) {
	pkgs := deps(t, "./cmd/lodger")
	if !slices.Contains(pkgs, module+"/container") {
		t.Fatalf("cmd/lodger does not link %s/container: go list -deps read wrong (%d packages)", module, len(pkgs))
	}
	var bad []string
	for _, p := range forbidden(pkgs, transferOnly...) {
		if !slices.Contains(allowedInLean, p) {
			bad = append(bad, p)
		}
	}
	if slices.Contains(pkgs, "go.podman.io/image/v5/docker") {
		bad = append(bad, "go.podman.io/image/v5/docker")
	}
	if len(bad) > 0 {
		t.Errorf("cmd/lodger links %q: that is lodger-transfer's (build it with -tags %s); lodger hands over the commands that need it (cmd/lodger/handoff.go)", bad, transferTag)
	}
	// The other side: the tag does give lodger-transfer what lodger
	// hands it, so the rule above is not met by linking nothing.
	full := deps(t, "./cmd/lodger", transferTag)
	for _, p := range []string{"go.podman.io/image/v5/docker", "go.podman.io/image/v5/copy", "go.podman.io/image/v5/signature", module + "/image/transfer", module + "/build", module + "/api"} {
		if !slices.Contains(full, p) {
			t.Errorf("cmd/lodger with -tags %s does not link %s", transferTag, p)
		}
	}
}

// TestCLILinksOnlyItsTransports: lodger-transfer links none of the
// transports lodger never accepts.
func TestCLILinksOnlyItsTransports(t *testing.T) {
	unused := []string{
		"go.podman.io/image/v5/transports/alltransports",
		"go.podman.io/image/v5/docker/daemon",
		"go.podman.io/image/v5/sif",
		"go.podman.io/image/v5/tarball",
		"go.podman.io/image/v5/openshift",
		"go.opentelemetry.io",
	}
	pkgs := deps(t, "./cmd/lodger", transferTag)
	if !slices.Contains(pkgs, "go.podman.io/image/v5/docker") {
		t.Fatalf("cmd/lodger with -tags %s does not link go.podman.io/image/v5/docker: go list -deps read wrong (%d packages)", transferTag, len(pkgs))
	}
	bad := forbidden(pkgs, unused...)
	// The moby client itself (go.podman.io/image/v5/manifest links only
	// its pkg/versions).
	if slices.Contains(pkgs, "github.com/moby/moby/client") {
		bad = append(bad, "github.com/moby/moby/client")
	}
	if len(bad) > 0 {
		t.Errorf("lodger-transfer links %q: import the transport lodger uses (image/transfer/transports.go), not all of them", bad)
	}
}

// lodger-socket, the one process of an idle API service, links no lodger
// package but its holder.
func TestSocketHolderLinksOnlyItsHolder(t *testing.T) {
	for _, p := range deps(t, "./cmd/lodger-socket") {
		if strings.HasPrefix(p, module+"/") && p != module+"/cmd/lodger-socket" && p != module+"/internal/holder" {
			t.Errorf("lodger-socket links %s: it must stay small", p)
		}
	}
}

func TestLibrariesImportNoCLI(t *testing.T) {
	// Every package of the module outside cmd/ and tests/, with what it
	// imports directly.
	lines := goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...")
	if len(lines) < 10 {
		t.Fatalf("go list found %d packages: %q", len(lines), lines)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		pkg, imports := f[0], f[1:]
		rel := strings.TrimPrefix(pkg, module+"/")
		if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "tests/") {
			continue
		}
		if bad := forbidden(imports, "github.com/spf13/cobra", "github.com/spf13/pflag", module+"/cmd"); len(bad) > 0 {
			t.Errorf("library %s imports %q: flag grammar stays in cmd/", pkg, bad)
		}
		if rel == "api" || strings.HasPrefix(rel, "api/") {
			continue
		}
		if slices.ContainsFunc(imports, func(i string) bool { return i == module+"/api" || strings.HasPrefix(i, module+"/api/") }) && !strings.HasPrefix(rel, "cmd/") {
			t.Errorf("library %s imports the API server: the API is a front end over the library, not a part of it", pkg)
		}
	}
}

// TestDepguardCoversTheSmallPrograms keeps .golangci.yml's depguard rule
// "small-programs" in step with what the small programs link: depguard
// checks the direct imports of the files it lists, so a package that
// lodger-monitor, lodger-session or lodger-socket starts linking must be
// listed there too, or an image import in it would be caught here only.
func TestDepguardCoversTheSmallPrograms(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), ".golangci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Linters struct {
			Settings struct {
				Depguard struct {
					Rules map[string]struct {
						Files []string `yaml:"files"`
					} `yaml:"rules"`
				} `yaml:"depguard"`
			} `yaml:"settings"`
		} `yaml:"linters"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".golangci.yml: %v", err)
	}
	// Each listed directory, with its subdirectories ("${base-path}/DIR/**").
	var dirs []string
	for _, f := range cfg.Linters.Settings.Depguard.Rules["small-programs"].Files {
		if dir, ok := strings.CutPrefix(f, "${base-path}/"); ok {
			dirs = append(dirs, strings.TrimSuffix(dir, "/**"))
		}
	}
	if len(dirs) < 3 {
		t.Fatalf(".golangci.yml's depguard rule small-programs lists %q: read wrong", dirs)
	}
	for _, bin := range []string{"cmd/lodger-monitor", "cmd/lodger-session", "cmd/lodger-socket"} {
		for _, p := range deps(t, "./"+bin) {
			rel, ok := strings.CutPrefix(p, module+"/")
			if !ok {
				continue
			}
			if !slices.ContainsFunc(dirs, func(d string) bool { return rel == d || strings.HasPrefix(rel, d+"/") }) {
				t.Errorf("%s links %s, which .golangci.yml's depguard rule small-programs does not list: add \"${base-path}/%s/**\"", bin, rel, rel)
			}
		}
	}
}
