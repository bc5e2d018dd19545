package transfer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lodger-containers/lodger/image"
)

func TestLoginLogout(t *testing.T) {
	host := newRegistry(t)
	insecure := false
	authFile := filepath.Join(t.TempDir(), "auth.json")
	opts := image.Options{TLSVerify: &insecure, AuthFile: authFile}
	ctx := context.Background()

	path, err := Login(ctx, host, "user", "s3cret", opts)
	if err != nil {
		t.Fatal(err)
	}
	if path != authFile {
		t.Errorf("Login wrote %s, want %s", path, authFile)
	}
	fi, err := os.Stat(authFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("auth file mode %v, want 0600", fi.Mode().Perm())
	}
	readAuths := func() map[string]any {
		t.Helper()
		b, err := os.ReadFile(authFile)
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Auths map[string]any `json:"auths"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		return f.Auths
	}
	if _, ok := readAuths()[host]; !ok {
		t.Fatalf("auth file has no entry for %s: %v", host, readAuths())
	}
	_, err = Login(ctx, "127.0.0.1:1", "user", "pw", opts)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("login to an unreachable registry: %v, want an error naming it", err)
	}

	if err := Logout(host, opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := readAuths()[host]; ok {
		t.Errorf("auth file still has %s after logout", host)
	}
	if err := Logout(host, opts); err == nil {
		t.Error("second logout succeeded; want an error saying there is nothing to remove")
	}
	if _, err := Login(ctx, host, "user", "s3cret", opts); err != nil {
		t.Fatal(err)
	}
	if err := Logout("", opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(authFile); err == nil && len(readAuths()) != 0 {
		t.Errorf("auth file after logout --all: %v", readAuths())
	}
}
