//go:build lodger_transfer

package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
	"go.podman.io/image/v5/docker"
)

func TestWithRegistryHint(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string // "" for no hint
	}{
		{"plain http", errors.New(`Get "https://r:5000/v2/": http: server gave HTTP response to HTTPS client`), "--tls-verify=false"},
		{"bad credentials", fmt.Errorf("push: %w", docker.ErrUnauthorizedForCredentials{Err: errors.New("401")}), "lodger login"},
		{"denied", fmt.Errorf("push: %w", errcode.ErrorCodeDenied.WithMessage("denied")), "lodger login"},
		{"other", errors.New("connection refused"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := withRegistryHint(c.err)
			if !errors.Is(got, c.err) {
				t.Errorf("hint lost the error: %v", got)
			}
			if c.want == "" {
				if got != c.err {
					t.Errorf("got %q, want the error unchanged", got)
				}
				return
			}
			if !strings.Contains(got.Error(), c.want) {
				t.Errorf("got %q, want it to mention %q", got, c.want)
			}
		})
	}
}
