package api

import (
	"fmt"
	"io"
	"net/http"
	"sync"

	"golang.org/x/net/websocket"

	"github.com/lodger-containers/lodger/container"
	"github.com/lodger-containers/lodger/container/monitor"
)

// attachWebsocket is GET /containers/{id}/attach/ws: the container's
// streams over a websocket (RFC 6455), as browsers and some IDEs attach.
// Docker sends the output raw, stdout and stderr alike, in binary
// messages, without the multiplexed stream header, and takes stdin from
// the client's messages. golang.org/x/net/websocket does the framing: the
// module is linked already (x/net), and its server is what Docker's own
// daemon serves this endpoint with.
//
// The container must be running: unlike the hijacked attach, a websocket
// gives no way to wait for a start before the upgrade is answered.
func (s *Server) attachWebsocket(w http.ResponseWriter, r *http.Request) {
	store := s.o.Store
	in, err := container.Get(store, r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	if in.State.Status != monitor.StatusRunning {
		writeError(w, fmt.Errorf("attach %s: %w: start it first", in.Name, container.ErrNotRunning))
		return
	}
	tty, _ := container.HasTerminal(store, in.ID)
	stdin, stdout, stderr := boolParam(r, "stdin"), boolParam(r, "stdout"), boolParam(r, "stderr")
	sess := s.attaches.add(in.ID, false)
	defer s.attaches.done(in.ID)
	ws := websocket.Server{
		// Any Origin: the socket is the user's own (0600), so whoever
		// speaks on it is the user; there is no browser's page to keep
		// out, as there would be on a TCP port.
		Handshake: func(*websocket.Config, *http.Request) error { return nil },
		Handler: func(conn *websocket.Conn) {
			conn.PayloadType = websocket.BinaryFrame
			gone := make(chan struct{})
			var once sync.Once
			leave := func() { once.Do(func() { close(gone) }) }
			out := &wsWriter{conn: conn, leave: leave}
			o := container.AttachOptions{DetachKeys: r.URL.Query().Get("detachKeys"), NoStdin: !stdin,
				Stdout: io.Discard, Stderr: io.Discard, Resize: sess.resize, Gone: gone}
			if stdout {
				o.Stdout = out
			}
			if stderr {
				o.Stderr = out
			}
			// The client's messages are stdin; without stdin they are
			// read and dropped, so that its close is seen.
			ended := make(chan struct{})
			rd := &wsReader{conn: conn, leave: leave, ended: ended}
			if stdin {
				o.Stdin = rd
			} else {
				go func() { _, _ = io.Copy(io.Discard, rd) }()
			}
			_, _ = container.Attach(in, tty, o)
			close(ended)
		},
	}
	ws.ServeHTTP(w, r)
}

// wsWriter sends each write as one binary message; a failed send means
// the client has gone.
type wsWriter struct {
	conn  *websocket.Conn
	leave func()
}

func (w *wsWriter) Write(b []byte) (int, error) {
	n, err := w.conn.Write(b)
	if err != nil {
		w.leave()
	}
	return n, err
}

// wsReader reads the client's messages as one stream; its end (a close
// message or a hang-up) means the client has gone. That is no end of the
// container's input, which a websocket has no way to say: as Docker's,
// the container's stdin stays open for the next client, so the end is
// reported only once the attach is over, when nothing passes it on.
type wsReader struct {
	conn  *websocket.Conn
	leave func()
	ended <-chan struct{}
}

func (r *wsReader) Read(b []byte) (int, error) {
	n, err := r.conn.Read(b)
	if err != nil {
		r.leave()
		<-r.ended
	}
	return n, err
}
