//go:build e2e

package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	// lodgerBin is the binary under test (LODGER_BIN).
	lodgerBin string
	// monitorBin is its container monitor, lodger-monitor beside it.
	monitorBin string
	// registry is host:port of the test registry (LODGER_TEST_REGISTRY).
	registry string
	// busybox is the basic test image, in the test registry.
	busybox string
	// ociArchive is the imagegen oci-archive (LODGER_TEST_OCI_ARCHIVE).
	ociArchive string
	// testData is a copy of tests/testdata the test user can read
	// (LODGER_TEST_DATA).
	testData string
	// scratch holds every test environment of this run.
	scratch string
	// shared is the environment most tests use.
	shared *env
)

func TestMain(m *testing.M) {
	// Re-executed as a subreaper for one lodger command (subreaper_test.go).
	if os.Getenv(subreaperEnv) != "" {
		os.Exit(subreaperMain(os.Args[1:]))
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "e2e: refusing to run as root: lodger is tested as an unprivileged user; run tests/e2e/run.sh as root, it drops to the test user")
		return 1
	}
	if err := configure(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if errs := preflight(); len(errs) > 0 {
		fmt.Fprintln(os.Stderr, "e2e: this host cannot run the end-to-end tests (a missing capability is a failure, not a skip):")
		for _, err := range errs {
			fmt.Fprintf(os.Stderr, "  - %v\n", err)
		}
		return 1
	}
	var err error
	scratch, err = os.MkdirTemp("", "lodger-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	shared, err = newEnv("shared")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	// An interrupted run still stops its session keepers.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: cleaning up\n", sig)
		cleanUp()
		os.Exit(1)
	}()
	start := time.Now()
	code := m.Run()
	signal.Stop(sigs)
	cleanUp()
	fmt.Fprintf(os.Stderr, "e2e: suite took %s\n", time.Since(start).Round(100*time.Millisecond))
	return code
}

// cleanUp closes every environment and removes the scratch directory.
func cleanUp() {
	closeAllEnvs()
	if err := os.RemoveAll(scratch); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: clean up: %v\n", err)
	}
}

// configure reads the environment variables the suite takes.
func configure() error {
	lodgerBin = os.Getenv("LODGER_BIN")
	if lodgerBin == "" {
		return errors.New("LODGER_BIN is not set: give the absolute path of the lodger binary (tests/e2e/run.sh does)")
	}
	if !filepath.IsAbs(lodgerBin) {
		return fmt.Errorf("LODGER_BIN=%s: want an absolute path", lodgerBin)
	}
	fi, err := os.Stat(lodgerBin)
	if err != nil {
		return fmt.Errorf("LODGER_BIN: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("LODGER_BIN=%s is not an executable file", lodgerBin)
	}
	monitorBin = filepath.Join(filepath.Dir(lodgerBin), "lodger-monitor")
	if fi, err := os.Stat(monitorBin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("no executable lodger-monitor beside LODGER_BIN=%s: build both (tests/e2e/run.sh does)", lodgerBin)
	}
	transferBin := filepath.Join(filepath.Dir(lodgerBin), "lodger-transfer")
	if fi, err := os.Stat(transferBin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("no executable lodger-transfer beside LODGER_BIN=%s: build it, ./cmd/lodger with the lodger_transfer tag (tests/e2e/run.sh does)", lodgerBin)
	}
	registry = os.Getenv("LODGER_TEST_REGISTRY")
	if registry == "" {
		registry = "127.0.0.1:5000"
	}
	busybox = ref("busybox:latest")
	ociArchive = os.Getenv("LODGER_TEST_OCI_ARCHIVE")
	testData = os.Getenv("LODGER_TEST_DATA")
	return nil
}

// preflight checks every host capability the suite needs and returns one
// error per missing one.
func preflight() []error {
	var errs []error
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		errs = append(errs, fmt.Errorf("the test images are linux/amd64 (static x86-64 busybox); this is %s/%s", runtime.GOOS, runtime.GOARCH))
	}
	// A user namespace the plain way, mapping only ourselves, as the
	// kernel allows any user to (unless sysctls or an LSM forbid it).
	probe := exec.Command("/bin/true")
	probe.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
	}
	if err := probe.Run(); err != nil {
		errs = append(errs, fmt.Errorf("create a user namespace: %v (check sysctls user.max_user_namespaces, kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)", err))
	}
	for _, helper := range []string{"newuidmap", "newgidmap"} {
		p, err := exec.LookPath(helper)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s not found in PATH=%s (install the uidmap package)", helper, os.Getenv("PATH")))
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
		} else if fi.Mode()&os.ModeSetuid == 0 && !hasFileCaps(p) {
			errs = append(errs, fmt.Errorf("%s is neither setuid root nor has file capabilities", p))
		}
	}
	u, err := user.Current()
	if err != nil {
		errs = append(errs, fmt.Errorf("look up the current user: %w", err))
	} else {
		for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
			if n, err := subIDCount(f, u.Username, u.Uid); err != nil {
				errs = append(errs, err)
			} else if n < 65536 {
				errs = append(errs, fmt.Errorf("%s gives %s (uid %s) %d ids, want at least 65536 (usermod --add-subuids/--add-subgids)", f, u.Username, u.Uid, n))
			}
		}
	}
	if f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0); err != nil {
		errs = append(errs, fmt.Errorf("open /dev/net/tun read-write: %w (as root: chmod 0666 /dev/net/tun)", err))
	} else {
		f.Close()
	}
	if err := pingRegistry(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

func hasFileCaps(path string) bool {
	dest := make([]byte, 64)
	n, err := syscall.Getxattr(path, "security.capability", dest)
	return err == nil && n > 0
}

// subIDCount sums the ranges a subordinate id file gives the user, named
// or numeric.
func subIDCount(file, name, uid string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("read subordinate ids: %w", err)
	}
	defer f.Close()
	total := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(fields) != 3 || (fields[0] != name && fields[0] != uid) {
			continue
		}
		if n, err := strconv.Atoi(fields[2]); err == nil {
			total += n
		}
	}
	return total, sc.Err()
}

func pingRegistry() error {
	// A loaded machine's registry may take seconds to answer.
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get("http://" + registry + "/v2/")
	if err != nil {
		return fmt.Errorf("test registry %s does not answer: %v (tests/e2e/run.sh starts one and pushes the images with imagegen)", registry, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("test registry %s: GET /v2/ answered %s", registry, resp.Status)
	}
	req, err := http.NewRequest(http.MethodHead, "http://"+registry+"/v2/lodger-test/busybox/manifests/latest", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
	}, ", "))
	resp, err = c.Do(req)
	if err != nil {
		return fmt.Errorf("test registry %s: %v", registry, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("test registry %s has no lodger-test/busybox:latest (%s): push the test set with `imagegen -registry %s`", registry, resp.Status, registry)
	}
	return nil
}
