package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cstorage "go.podman.io/storage"

	"github.com/lodger-containers/lodger/api/apiversion"
	"github.com/lodger-containers/lodger/image"
	"github.com/lodger-containers/lodger/internal/prunefilter"
	"github.com/lodger-containers/lodger/storage"
)

// The Engine API versions served. Version is the schema of the
// github.com/moby/moby/api types the reports are built on; clients
// negotiate down from it, and every version from MinVersion up is
// accepted in a path prefix (and none at all).
const (
	Version    = apiversion.Current
	MinVersion = apiversion.Min
)

// Options are what a Server needs from its front end.
type Options struct {
	// Store is the open storage every handler works on; the server never
	// shuts it down.
	Store cstorage.Store
	// StoreOptions tell the monitors it starts where the store is.
	StoreOptions storage.Options
	// Pull are the registry options of pulls, pushes and runs.
	Pull image.Options
	// LodgerVersion is lodger's own version, for /version and Server.
	LodgerVersion string
	// Info reports the machine for /info; nil serves what the store knows.
	Info func() (any, error)
	// MaxBodyBytes bounds a JSON request body; 0 is DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Log, when set, receives a line per request (--log-level=debug).
	Log func(format string, a ...any)
}

// DefaultMaxBodyBytes bounds a JSON body: a create request with a large
// environment is some kilobytes; anything beyond this is refused, not read.
const DefaultMaxBodyBytes = 4 << 20

// Server is the Engine API over lodger's library.
type Server struct {
	o   Options
	mux *http.ServeMux
	// active counts requests and streams in progress; lastDone is when
	// the last one ended, for the idle exit.
	active   atomic.Int64
	lastDone atomic.Int64
	execs    execTable
	attaches attachTable
}

// New returns a server for o.
func New(o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Server{o: o, mux: http.NewServeMux()}
	s.execs.m = map[string]*execSession{}
	s.attaches.m = map[string]*attachSession{}
	s.lastDone.Store(time.Now().UnixNano())
	s.routes()
	return s
}

// Handler is the server's HTTP handler: version prefixes stripped and
// checked, Docker's headers set, requests counted for the idle exit.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

var versionPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`) })

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer func() {
		s.lastDone.Store(time.Now().UnixNano())
		s.active.Add(-1)
	}()
	if s.o.Log != nil {
		start := time.Now()
		defer func() { s.o.Log("%s %s (%v)", r.Method, r.URL.RequestURI(), time.Since(start).Round(time.Microsecond)) }()
		s.o.Log("%s %s", r.Method, r.URL.RequestURI())
	}
	h := w.Header()
	h.Set("Api-Version", Version)
	h.Set("Docker-Experimental", "false")
	h.Set("Ostype", "linux")
	// 1 is the classic builder: a client that sees 2 starts a BuildKit
	// session, which lodger does not serve.
	h.Set("Builder-Version", "1")
	h.Set("Server", "lodger/"+s.o.LodgerVersion+" (linux)")
	if m := versionPrefix().FindStringSubmatch(r.URL.Path); m != nil {
		if compareVersions(m[1], MinVersion) < 0 {
			writeError(w, badRequest("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", m[1], MinVersion))
			return
		}
		if compareVersions(m[1], Version) > 0 {
			writeError(w, badRequest("client version %s is too new. Maximum supported API version is %s", m[1], Version))
			return
		}
		r2 := r.Clone(context.WithValue(r.Context(), apiVersionKey{}, m[1]))
		r2.URL.Path = m[2]
		r2.URL.RawPath = ""
		r = r2
	}
	s.mux.ServeHTTP(w, r)
}

// apiVersionKey is the context key of the API version a request named.
type apiVersionKey struct{}

// versionBefore says whether r names an API version before v: a client
// that old reads fields newer versions dropped. A request without a
// version is served the current one.
func versionBefore(r *http.Request, v string) bool {
	asked, ok := r.Context().Value(apiVersionKey{}).(string)
	return ok && compareVersions(asked, v) < 0
}

// compareVersions compares two "MAJOR.MINOR" API versions.
func compareVersions(a, b string) int {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	for _, p := range [][2]string{{am, bm}, {an, bn}} {
		x, _ := strconv.Atoi(p[0])
		y, _ := strconv.Atoi(p[1])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Serve answers on ln until ctx ends or, with idle > 0, until no request
// or stream has been open for idle. It returns nil on either.
func (s *Server) Serve(ctx context.Context, ln net.Listener, idle time.Duration) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	var tick <-chan time.Time
	if idle > 0 {
		t := time.NewTicker(min(idle/4+time.Millisecond, 250*time.Millisecond))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case err := <-done:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-ctx.Done():
			return s.shutdown(hs)
		case <-tick:
			if s.Idle() && time.Since(time.Unix(0, s.lastDone.Load())) >= idle {
				return s.shutdown(hs)
			}
		}
	}
}

func (s *Server) shutdown(hs *http.Server) error {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Streams (attach, logs -f, events) are not waited for: they hold
	// nothing a container needs, and their clients see the end.
	_ = hs.Shutdown(sctx)
	return nil
}

// Idle reports whether no request or stream is open and no detached
// exec runs: such an exec is the server's child, whose exit code a client
// may still ask for.
func (s *Server) Idle() bool { return s.active.Load() == 0 && !s.execs.running() }

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads r's JSON body into v. An empty body leaves v as it is,
// as Docker's optional bodies; unknown fields are ignored, as Docker's
// are; a body beyond the bound is refused.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &statusError{code: http.StatusRequestEntityTooLarge, err: errors.New("request body larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes")}
		}
		return badRequest("invalid JSON body: %v", err)
	}
	return nil
}

// boolParam reads a query parameter as Docker does: 1, true, yes (any
// case) are true; absent, empty, 0, false, no are false.
func boolParam(r *http.Request, name string) bool {
	switch strings.ToLower(r.URL.Query().Get(name)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

// intParam reads an integer query parameter; absent is def.
func intParam(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, badRequest("invalid %s %q: not an integer", name, v)
	}
	return n, nil
}

// pruneFilters is a prune request's filters parameter, read as
// prunefilter reads it with the keys allowed; rest holds the allowed keys
// that are not its own.
func pruneFilters(r *http.Request, allowed ...string) (f prunefilter.Filter, rest map[string][]string, err error) {
	filters, err := filtersParam(r)
	if err != nil {
		return f, nil, err
	}
	return prunefilter.Parse(filters, allowed...)
}

// filtersParam decodes Docker's filters parameter: {"key":["v",...]} or,
// from old clients, {"key":{"v":true}}.
func filtersParam(r *http.Request) (map[string][]string, error) {
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return nil, nil
	}
	var lists map[string][]string
	if err := json.Unmarshal([]byte(raw), &lists); err == nil {
		return lists, nil
	}
	var sets map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &sets); err != nil {
		return nil, badRequest("invalid filters %q: %v", raw, err)
	}
	lists = map[string][]string{}
	for k, vs := range sets {
		for v, on := range vs {
			if on {
				lists[k] = append(lists[k], v)
			}
		}
	}
	return lists, nil
}

// flattenFilters turns filters into the KEY=VALUE list the library's
// filter parsers take (the same as the CLI's --filter values).
func flattenFilters(f map[string][]string) []string {
	var out []string
	for k, vs := range f {
		for _, v := range vs {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// streamWriter flushes every write, for chunked progress and logs.
type streamWriter struct {
	mu sync.Mutex
	w  io.Writer
	f  http.Flusher
}

func newStreamWriter(w http.ResponseWriter) *streamWriter {
	f, _ := w.(http.Flusher)
	return &streamWriter{w: w, f: f}
}

func (s *streamWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.w.Write(b)
	if s.f != nil {
		s.f.Flush()
	}
	return n, err
}
