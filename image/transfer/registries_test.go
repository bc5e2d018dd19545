package transfer

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodger-containers/lodger/image"
)

// sysFiles writes registries.conf and policy.json for one test and returns
// Options using them and nothing of the machine's (an empty drop-in
// directory).
func sysFiles(t *testing.T, registriesConf, policy string) image.Options {
	t.Helper()
	dir := t.TempDir()
	o := image.Options{RegistriesConf: filepath.Join(dir, "registries.conf"), RegistriesConfDir: filepath.Join(dir, "registries.conf.d")}
	if err := os.WriteFile(o.RegistriesConf, []byte(registriesConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		o.SignaturePolicy = filepath.Join(dir, "policy.json")
		if err := os.WriteFile(o.SignaturePolicy, []byte(policy), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// downHost is the address of a registry that is not there: a server
// started and closed, so nothing listens on its port.
func downHost(t *testing.T) string {
	srv := httptest.NewServer(nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	return host
}

func pullID(t *testing.T, host, ref string) string {
	t.Helper()
	insecure := false
	id, err := Pull(context.Background(), newStore(t), host+"/"+ref, image.Options{TLSVerify: &insecure})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRegistriesConfMirrors(t *testing.T) {
	ctx := context.Background()
	primary := downHost(t)
	down := downHost(t)
	first, second := newRegistry(t), newRegistry(t) // a different random image each
	firstID, secondID := pullID(t, first, "test/random:v1"), pullID(t, second, "test/random:v1")

	conf := func(mirrors ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "[[registry]]\nlocation = %q\ninsecure = true\n", primary)
		for _, m := range mirrors {
			fmt.Fprintf(&b, "[[registry.mirror]]\nlocation = %q\ninsecure = true\n", m)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name    string
		mirrors []string
		want    string
	}{
		{"first mirror answers", []string{first, second}, firstID},
		{"first mirror down", []string{down, second}, secondID},
		{"order kept", []string{second, first}, secondID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := sysFiles(t, conf(tc.mirrors...), "")
			store := newStore(t)
			id, err := Pull(ctx, store, primary+"/test/random:v1", o)
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.want {
				t.Errorf("pulled %s, want %s (from mirror order %v)", id, tc.want, tc.mirrors)
			}
			if img, err := image.Lookup(store, primary+"/test/random:v1", o); err != nil || img.ID != id {
				t.Errorf("the image is not named after the registry asked for: %v, %v", img, err)
			}
		})
	}
	t.Run("all down", func(t *testing.T) {
		o := sysFiles(t, conf(down), "")
		store := newStore(t)
		_, err := Pull(ctx, store, primary+"/test/random:v1", o)
		wantErrorContains(t, err, primary+"/test/random:v1")
		wantNothingLeft(t, store)
	})
}

func TestRegistriesConfBlocked(t *testing.T) {
	host := newRegistry(t)
	o := sysFiles(t, fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\nblocked = true\n", host), "")
	store := newStore(t)
	_, err := Pull(context.Background(), store, host+"/test/random:v1", o)
	wantErrorContains(t, err, host, "blocked")
	wantNothingLeft(t, store)
}

func TestRegistriesConfShortNames(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t)
	other := newRegistry(t)
	down := downHost(t)
	o := sysFiles(t, fmt.Sprintf(`unqualified-search-registries = [%q, %q]
short-name-mode = "permissive"
[[registry]]
location = %q
insecure = true
[[registry]]
location = %q
insecure = true
[aliases]
"myalias" = "%s/test/random"
`, down, other, host, other, host), "")

	store := newStore(t)
	id, err := Pull(ctx, store, "myalias:v1", o)
	if err != nil {
		t.Fatal(err)
	}
	if want := pullID(t, host, "test/random:v1"); id != want {
		t.Errorf("the alias pulled %s, want %s from %s", id, want, host)
	}
	for _, ref := range []string{"myalias:v1", host + "/test/random:v1"} {
		if img, err := image.Lookup(store, ref, o); err != nil || img.ID != id {
			t.Errorf("Lookup(%q) = %v, %v; want %s", ref, img, err, id)
		}
	}

	// Not an alias: the search registries in order, the down one skipped.
	id, err = Pull(ctx, store, "test/random:v1", o)
	if err != nil {
		t.Fatal(err)
	}
	if want := pullID(t, other, "test/random:v1"); id != want {
		t.Errorf("the search pulled %s, want %s from %s", id, want, other)
	}
}

func TestSignaturePolicy(t *testing.T) {
	ctx := context.Background()
	host := newRegistry(t)
	pushRandom(t, host+"/open/random:v1", 512, 1)
	conf := fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", host)
	policy := func(requirement string) string {
		return fmt.Sprintf(`{"default":[{"type":"insecureAcceptAnything"}],
"transports":{"docker":{%q:[%s]}}}`, host+"/test", requirement)
	}
	for _, tc := range []struct {
		name, requirement, want string
	}{
		{"reject", `{"type":"reject"}`, "rejected"},
		{"signedBy unsigned", `{"type":"signedBy","keyType":"GPGKeys","keyPath":"/nonexistent/key.gpg"}`, "no signature exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := sysFiles(t, conf, policy(tc.requirement))
			store := newStore(t)
			_, err := Pull(ctx, store, host+"/test/random:v1", o)
			wantErrorContains(t, err, "signature policy", host+"/test/random", tc.want)
			wantNothingLeft(t, store)
			// Scopes the policy does not name are still accepted.
			if _, err := Pull(ctx, store, host+"/open/random:v1", o); err != nil {
				t.Errorf("pull outside the policy's scope: %v", err)
			}
		})
	}
}
