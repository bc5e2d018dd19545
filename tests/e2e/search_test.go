//go:build e2e

package e2e

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSearch lists the test registry's repositories through its catalog.
func TestSearch(t *testing.T) {
	r := lodger(t, "search", noTLS, registry+"/lodger-test/busy")
	wantOK(t, r)
	ls := lines(r.stdout)
	if len(ls) < 2 || !strings.HasPrefix(ls[0], "NAME") || !strings.Contains(ls[0], "DESCRIPTION") {
		t.Fatalf("%s\nwant a header and a row per repository", r)
	}
	var names []string
	for _, l := range ls[1:] {
		names = append(names, strings.Fields(l)[0])
	}
	if !slices.Contains(names, registry+"/lodger-test/busybox") {
		t.Errorf("%s\nwant a row for %s/lodger-test/busybox", r, registry)
	}
	for _, n := range names {
		if !strings.Contains(n, "busy") {
			t.Errorf("%s\nname %q does not match the term", r, n)
		}
	}

	t.Run("json and limit", func(t *testing.T) {
		r := lodger(t, "search", noTLS, "--format", "json", "--limit", "3", registry+"/lodger-test/")
		wantOK(t, r)
		got := jsonLines[struct{ Index, Name, StarCount, IsOfficial string }](t, r)
		if len(got) != 3 {
			t.Fatalf("%s\nwant 3 results (the test set has more under lodger-test/)", r)
		}
		for _, g := range got {
			if g.Index != registry || !strings.HasPrefix(g.Name, registry+"/lodger-test/") || g.StarCount != "0" || g.IsOfficial != "false" {
				t.Errorf("%s\nresult %+v: want index %s and a name under lodger-test/", r, g, registry)
			}
		}
		r = lodger(t, "search", noTLS, "--format", "json", registry+"/no-such-repository-anywhere")
		wantStdout(t, r, "")
	})

	t.Run("search registries", func(t *testing.T) {
		e := isolatedEnv(t)
		conf := `unqualified-search-registries = ["` + registry + `"]

[[registry]]
location = "` + registry + `"
insecure = true
`
		dir := filepath.Join(e.config, "containers")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "registries.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		r := e.lodger(t, "search", "lodger-test/busybox")
		wantOK(t, r)
		if ls := lines(r.stdout); len(ls) < 2 || strings.Fields(ls[1])[0] != registry+"/lodger-test/busybox" {
			t.Errorf("%s\nwant the exact match %s/lodger-test/busybox first", r, registry)
		}
	})

	t.Run("catalog refused", func(t *testing.T) {
		// A registry that answers the v2 API but not its catalog, as many
		// hosted registries do.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
				return
			}
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"UNSUPPORTED","message":"catalog disabled"}]}`))
		}))
		defer srv.Close()
		host := strings.TrimPrefix(srv.URL, "http://")
		wantError(t, lodger(t, "search", noTLS, host+"/busybox"), 1, host, "does not support search")
	})

	t.Run("errors", func(t *testing.T) {
		wantError(t, lodger(t, "search", noTLS, "127.0.0.1:1/busybox"), 1, "127.0.0.1:1", "connection refused")
		wantError(t, lodger(t, "search", registry+"/busybox"), 1, "--tls-verify=false")
		wantError(t, lodger(t, "search", noTLS, "--format", "{{.Yaml}}", registry+"/busybox"), 1, "can't evaluate field Yaml")
		wantError(t, lodger(t, "search", noTLS, "--limit", "0", registry+"/busybox"), 1, "--limit")
		wantError(t, lodger(t, "search"), 1, "requires exactly 1 argument")
	})
}
