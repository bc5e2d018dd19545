//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// tlsRegistry is Debian's docker-registry serving https with a certificate
// of a test CA and htpasswd authentication.
type tlsRegistry struct {
	host    string // 127.0.0.1:PORT
	certDir string // holds ca.crt, for --cert-dir
}

// startTLSRegistry starts docker-registry on a free loopback port with a
// fresh CA, a server certificate for 127.0.0.1 and one htpasswd user.
func startTLSRegistry(t *testing.T, user, password string) *tlsRegistry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry is needed for the TLS login test (Debian: docker-registry): %v", err)
	}
	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	caCert, caKey := makeCert(t, nil, nil, "lodger test CA")
	writePEM(t, filepath.Join(certDir, "ca.crt"), "CERTIFICATE", caCert.Raw)
	srvCert, srvKey := makeCert(t, caCert, caKey, "127.0.0.1")
	writePEM(t, filepath.Join(dir, "server.crt"), "CERTIFICATE", srvCert.Raw)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "server.key"), "EC PRIVATE KEY", keyDER)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := l.Addr().String()
	l.Close()
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s/data
http:
  addr: %s
  tls:
    certificate: %s/server.crt
    key: %s/server.key
auth:
  htpasswd:
    realm: lodger-test
    path: %s/htpasswd
`, dir, host, dir, dir, dir)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(pool)}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := client.Get("https://" + host + "/v2/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusUnauthorized {
				break
			}
			err = fmt.Errorf("GET /v2/: %s, want 401", res.Status)
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", host, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &tlsRegistry{host: host, certDir: certDir}
}

func tlsConfig(pool *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: pool} }

// makeCert makes a P-256 certificate: a self-signed CA when parent is
// nil, else a server certificate for the IP address cn signed by parent.
func makeCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP(cn)}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// authEntries reads the registries that have credentials in e's auth.json.
func authEntries(t *testing.T, e *env) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.runtime, "containers", "auth.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("auth.json: %v\n%s", err, b)
	}
	got := map[string]bool{}
	for k := range f.Auths {
		got[k] = true
	}
	return got
}

// TestLoginTLS logs in to a registry with htpasswd over https with a test
// CA given by --cert-dir: bad passwords fail, the good one is stored 0600
// and used by push and pull, and logout removes it.
func TestLoginTLS(t *testing.T) {
	const user, password = "tester", "s3cret-passw0rd"
	reg := startTLSRegistry(t, user, password)
	e := isolatedEnv(t)
	certDir := "--cert-dir=" + reg.certDir
	login := func(pw string, flags ...string) result {
		args := append([]string{"login", "-u", user, "--password-stdin"}, flags...)
		return call{env: e, stdin: strings.NewReader(pw + "\n")}.run(t, append(args, reg.host)...)
	}
	noSecret := func(r result) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Errorf("%s\nthe password was printed", r)
		}
	}

	// Without the CA, the certificate is not trusted.
	r := login(password)
	wantError(t, r, 1, reg.host, "certificate")
	noSecret(r)
	r = login("wrong-password", certDir)
	wantError(t, r, 1, reg.host)
	noSecret(r)
	if got := authEntries(t, e); len(got) != 0 {
		t.Fatalf("failed logins stored credentials for %v", got)
	}

	r = login(password, certDir)
	wantStdout(t, r, "Login Succeeded!\n")
	noSecret(r)
	if got := authEntries(t, e); !got[reg.host] {
		t.Fatalf("auth.json has %v, want %s", got, reg.host)
	}
	fi, err := os.Stat(filepath.Join(e.runtime, "containers", "auth.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("auth.json: %v, %v; want mode 0600", fi.Mode(), err)
	}

	// Push and pull with the stored credentials.
	id := e.pull(t, busybox, noTLS)
	image := reg.host + "/private/busybox:v1"
	wantCode(t, e.lodger(t, "tag", busybox, image), 0)
	wantError(t, e.lodger(t, "push", "-q", image), 1, reg.host)
	wantCode(t, e.lodger(t, "push", "-q", certDir, image), 0)
	wantCode(t, e.lodger(t, "rmi", image, busybox), 0)
	if got := e.pull(t, image, certDir); got != id {
		t.Errorf("pulled %s back as %s, want %s", image, got, id)
	}
	wantStdout(t, e.runRm(t, image, "echo", "tls"), "tls\n")

	// Another environment without the credentials is refused.
	other := isolatedEnv(t)
	wantError(t, other.lodger(t, "pull", "-q", certDir, image), 1, reg.host)

	r = e.lodger(t, "logout", reg.host)
	wantStdout(t, r, "Removed login credentials for "+reg.host+"\n")
	if got := authEntries(t, e); got[reg.host] {
		t.Errorf("auth.json still has %s after logout", reg.host)
	}
	wantCode(t, e.lodger(t, "rmi", image), 0)
	wantError(t, e.lodger(t, "pull", "-q", certDir, image), 1, reg.host)
}
