// Command apiping times GET /_ping on a unix socket, each request on a
// connection of its own, as bench/api.sh's curl does, from a Go client:
// without curl's own start-up and set-up in the figure, what is left is
// the socket and the server. It prints one time a line, in seconds.
//
//	apiping SOCKET COUNT
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: apiping SOCKET COUNT")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "apiping: COUNT must be a number >= 1")
		os.Exit(2)
	}
	req, err := http.NewRequest(http.MethodGet, "http://d/_ping", nil)
	if err != nil {
		panic(err)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for range n {
		d, err := ping(os.Args[1], req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apiping:", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "%.6f\n", d.Seconds())
		// As curl's loop: the server sees one client at a time, with a
		// pause between them.
		time.Sleep(2 * time.Millisecond)
	}
}

// ping connects, asks and reads the whole answer.
func ping(sock string, req *http.Request) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("unix", sock)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := req.Write(c); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "OK" {
		return 0, fmt.Errorf("GET /_ping: %s %q %v", resp.Status, body, err)
	}
	return time.Since(start), nil
}
