package container

import (
	"context"
	"errors"
	"testing"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"

	"github.com/lodger-containers/lodger/image"
)

// TestMustPull: what decides whether run and create pull, which is when
// lodger hands them over to lodger-transfer. An image not in storage is
// pulled unless --pull never; always and newer pull whatever is there;
// a bad policy or reference is run's own error, not a pull.
func TestMustPull(t *testing.T) {
	dir := t.TempDir()
	store, err := cstorage.GetStore(types.StoreOptions{GraphRoot: dir + "/graph", RunRoot: dir + "/run", GraphDriverName: "vfs"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = store.Shutdown(true) })
	ctx := context.Background()
	for _, tt := range []struct {
		ref, policy string
		want        bool
		wantErr     error // nil: no error
	}{
		{"busybox", PullMissing, true, nil},
		{"busybox", "", true, nil}, // the API's and build's default
		{"example.org/a/b:1", PullAlways, true, nil},
		{"busybox", PullNewer, true, nil},
		{"busybox", PullNever, false, image.ErrNotFound},
		{"busybox", "sometimes", false, errAny},
		{"UPPER/case", PullMissing, false, errAny},
	} {
		got, err := MustPull(ctx, store, tt.ref, tt.policy, image.Options{})
		if got != tt.want {
			t.Errorf("MustPull(%q, --pull %q) = %v, want %v (err %v)", tt.ref, tt.policy, got, tt.want, err)
		}
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("MustPull(%q, --pull %q): %v", tt.ref, tt.policy, err)
		case tt.wantErr == errAny && err == nil, tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
			t.Errorf("MustPull(%q, --pull %q): error %v, want %v", tt.ref, tt.policy, err, tt.wantErr)
		}
	}
	imgs, err := store.Images()
	if err != nil || len(imgs) != 0 {
		t.Errorf("MustPull changed storage: images %v, %v", imgs, err)
	}
}

// errAny stands for any error in TestMustPull's table.
var errAny = errors.New("any error")
