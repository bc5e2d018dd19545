package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/lodger-containers/lodger/image"
)

// catalogRegistry is go-containerregistry's registry with the catalog
// paginated as Docker's distribution registry does it (that one returns
// everything in one page, in map order): sorted names, `n` per page
// (pageSize without it), from after `last`, and a Link header to the next
// page. catalog, when set, answers /v2/_catalog instead.
type catalogRegistry struct {
	inner    http.Handler
	pageSize int
	catalog  http.HandlerFunc
	// user and password, when set, are required of every request.
	user, password string

	mu    sync.Mutex
	pages []string // the query of each catalog request
}

func newCatalogRegistry(t *testing.T, pageSize int, repos ...string) (*catalogRegistry, string) {
	t.Helper()
	c := &catalogRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))), pageSize: pageSize}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, r := range repos {
		pushRandom(t, host+"/"+r+":latest", 64, 1)
	}
	return c, host
}

func (c *catalogRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != c.user || p != c.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
	}
	if r.URL.Path != "/v2/_catalog" {
		c.inner.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	c.pages = append(c.pages, r.URL.RawQuery)
	c.mu.Unlock()
	if c.catalog != nil {
		c.catalog(w, r)
		return
	}
	all := httptest.NewRecorder()
	c.inner.ServeHTTP(all, httptest.NewRequest(http.MethodGet, "/v2/_catalog", nil))
	var body struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(all.Body.Bytes(), &body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	slices.Sort(body.Repositories)
	q := r.URL.Query()
	n := c.pageSize
	if v, err := strconv.Atoi(q.Get("n")); err == nil && v > 0 {
		n = v
	}
	repos := body.Repositories
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(repos, last)
		for i < len(repos) && repos[i] <= last {
			i++
		}
		repos = repos[i:]
	}
	if len(repos) > n {
		repos = repos[:n]
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {repos[n-1]}}
		w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?%s>; rel="next"`, next.Encode()))
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"repositories": repos})
}

func searchNames(results []SearchResult) []string {
	names := []string{}
	for _, r := range results {
		names = append(names, r.Name)
	}
	return names
}

func TestSearchCatalog(t *testing.T) {
	c, host := newCatalogRegistry(t, 2, "lodger-test/busybox", "lodger-test/busybox-extra", "other/alpine", "busybox", "zz/busybox-last")
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	ctx := context.Background()

	for _, tc := range []struct {
		term  string
		limit int
		want  []string
	}{
		// An exact match comes first; the rest in catalog order, from
		// every page.
		{term: "busybox", want: []string{"busybox", "lodger-test/busybox", "lodger-test/busybox-extra", "zz/busybox-last"}},
		{term: "lodger-test/", want: []string{"lodger-test/busybox", "lodger-test/busybox-extra"}},
		{term: "alp", want: []string{"other/alpine"}},
		{term: "", want: []string{"busybox", "lodger-test/busybox", "lodger-test/busybox-extra", "other/alpine", "zz/busybox-last"}},
		{term: "busybox", limit: 2, want: []string{"busybox", "lodger-test/busybox"}},
		{term: "nothing-like-it", want: []string{}},
	} {
		t.Run(fmt.Sprintf("%q limit %d", tc.term, tc.limit), func(t *testing.T) {
			got, err := Search(ctx, host+"/"+tc.term, tc.limit, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tc.want {
				want = append(want, host+"/"+w)
			}
			if want == nil {
				want = []string{}
			}
			if diff := cmp.Diff(want, searchNames(got)); diff != "" {
				t.Errorf("names (-want +got):\n%s", diff)
			}
			for _, r := range got {
				if r.Index != host {
					t.Errorf("%s: index %q, want %q", r.Name, r.Index, host)
				}
			}
		})
	}
	// Five repositories in pages of two: three requests, the later ones
	// from where the previous page ended.
	c.mu.Lock()
	pages := slices.Clone(c.pages)
	c.mu.Unlock()
	want := []string{"", "last=lodger-test%2Fbusybox&n=2", "last=other%2Falpine&n=2"}
	if diff := cmp.Diff(want, pages[:3]); diff != "" {
		t.Errorf("catalog requests of the first search (-want +got):\n%s", diff)
	}
}

func TestSearchRefused(t *testing.T) {
	insecure := false
	opts := image.Options{TLSVerify: &insecure}
	ctx := context.Background()

	for _, tc := range []struct {
		name    string
		catalog http.HandlerFunc
		words   []string
	}{
		{"not found", http.NotFound, []string{"does not support search", "404"}},
		{"unsupported", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusMethodNotAllowed)
			fmt.Fprint(w, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`)
		}, []string{"does not support search", "unsupported"}},
		{"denied", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
		}, []string{"does not support search", "lodger login"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, host := newCatalogRegistry(t, 100)
			c.catalog = tc.catalog
			got, err := Search(ctx, host+"/busybox", 0, opts)
			if !errors.Is(err, ErrSearchUnsupported) {
				t.Fatalf("Search: %v, want ErrSearchUnsupported", err)
			}
			if len(got) != 0 {
				t.Errorf("results %v, want none", got)
			}
			for _, w := range append(tc.words, host) {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(w)) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	t.Run("unreachable", func(t *testing.T) {
		down := downHost(t)
		_, err := Search(ctx, down+"/busybox", 0, opts)
		if err == nil || errors.Is(err, ErrSearchUnsupported) || !strings.Contains(err.Error(), down) {
			t.Errorf("Search of a registry that is not there: %v, want an error naming it and not ErrSearchUnsupported", err)
		}
	})
}

func TestSearchCredentials(t *testing.T) {
	c, host := newCatalogRegistry(t, 100, "private/app")
	c.user, c.password = "user", "s3cret"
	insecure := false
	opts := image.Options{TLSVerify: &insecure, AuthFile: filepath.Join(t.TempDir(), "auth.json")}
	ctx := context.Background()

	if _, err := Search(ctx, host+"/app", 0, opts); !errors.Is(err, ErrSearchUnsupported) || !strings.Contains(err.Error(), "lodger login") {
		t.Fatalf("Search without credentials: %v, want ErrSearchUnsupported saying to log in", err)
	}
	if _, err := Login(ctx, host, "user", "s3cret", opts); err != nil {
		t.Fatal(err)
	}
	got, err := Search(ctx, host+"/app", 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{host + "/private/app"}, searchNames(got)); diff != "" {
		t.Errorf("names with the stored credentials (-want +got):\n%s", diff)
	}
}

func TestSearchRegistriesConf(t *testing.T) {
	_, host := newCatalogRegistry(t, 100, "lodger-test/busybox")
	_, other := newCatalogRegistry(t, 100, "mirror/busybox")
	down := downHost(t)
	insecure := false
	ctx := context.Background()

	t.Run("search registries in order", func(t *testing.T) {
		o := sysFiles(t, fmt.Sprintf("unqualified-search-registries = [%q, %q]\n", host, other), "")
		o.TLSVerify = &insecure
		got, err := Search(ctx, "busybox", 0, o)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{host + "/lodger-test/busybox", other + "/mirror/busybox"}
		if diff := cmp.Diff(want, searchNames(got)); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
	t.Run("one registry down", func(t *testing.T) {
		o := sysFiles(t, fmt.Sprintf("unqualified-search-registries = [%q, %q]\n", down, host), "")
		o.TLSVerify = &insecure
		got, err := Search(ctx, "busybox", 0, o)
		var serr *SearchError
		if !errors.As(err, &serr) || serr.Answered != 1 || len(serr.Errs) != 1 || !strings.Contains(err.Error(), down) {
			t.Fatalf("Search: %v, want a SearchError naming %s with one registry answered", err, down)
		}
		if diff := cmp.Diff([]string{host + "/lodger-test/busybox"}, searchNames(got)); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
	t.Run("no search registries", func(t *testing.T) {
		o := sysFiles(t, "", "")
		if _, err := Search(ctx, "busybox", 0, o); err == nil || !strings.Contains(err.Error(), "unqualified-search-registries") {
			t.Errorf("Search: %v, want an error pointing at unqualified-search-registries", err)
		}
	})
	t.Run("blocked", func(t *testing.T) {
		o := sysFiles(t, fmt.Sprintf("[[registry]]\nlocation = %q\nblocked = true\n", host), "")
		o.TLSVerify = &insecure
		if _, err := Search(ctx, host+"/busybox", 0, o); err == nil || !strings.Contains(err.Error(), "blocked") {
			t.Errorf("Search of a blocked registry: %v, want an error saying it is blocked", err)
		}
	})
	t.Run("negative limit", func(t *testing.T) {
		if _, err := Search(ctx, host+"/busybox", -1, image.Options{TLSVerify: &insecure}); err == nil {
			t.Error("Search with limit -1 succeeded")
		}
	})
}

func TestSplitSearchTerm(t *testing.T) {
	for _, tc := range []struct {
		term     string
		registry string
		query    string
	}{
		{"busybox", "", "busybox"},
		{"library/busybox", "", "library/busybox"},
		{"127.0.0.1:5000/busy", "127.0.0.1:5000", "busy"},
		{"quay.io/podman/hello", "quay.io", "podman/hello"},
		{"localhost/app", "localhost", "app"},
		{"registry.example/", "registry.example", ""},
	} {
		regs, q := splitSearchTerm(tc.term)
		got := ""
		if regs != nil {
			got = regs[0]
		}
		if got != tc.registry || q != tc.query {
			t.Errorf("splitSearchTerm(%q) = %q, %q; want %q, %q", tc.term, got, q, tc.registry, tc.query)
		}
	}
}
