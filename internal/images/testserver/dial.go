package testserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// dialResult is /dial's JSON answer.
type dialResult struct {
	Responses []string `json:"responses"`
	Errors    []string `json:"errors"`
}

// dialHandler makes ?tries= requests of ?request= to ?host=:?port= over
// ?protocol= (http or udp) and reports the answers; 200 if the last try
// succeeded, 417 if not, 400 on bad parameters.
func dialHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host, port, request := q.Get("host"), q.Get("port"), q.Get("request")
	protocol := q.Get("protocol")
	if protocol == "" {
		protocol = "http"
	}
	tries := 1
	if s := q.Get("tries"); s != "" {
		t, err := strconv.Atoi(s)
		if err != nil || t < 1 {
			http.Error(w, fmt.Sprintf("tries %q must be a positive integer", s), http.StatusBadRequest)
			return
		}
		tries = t
	}
	if host == "" || port == "" || request == "" {
		http.Error(w, "host, port and request are required", http.StatusBadRequest)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		http.Error(w, fmt.Sprintf("port %q is not a port number", port), http.StatusBadRequest)
		return
	}
	addr := net.JoinHostPort(host, port)
	var dial func() (string, error)
	switch protocol {
	case "http":
		dial = func() (string, error) { return dialHTTP(r.Context(), addr, request) }
	case "udp":
		dial = func() (string, error) { return dialUDP(addr, request) }
	default:
		http.Error(w, fmt.Sprintf("protocol %q is not http or udp", protocol), http.StatusBadRequest)
		return
	}
	res := dialResult{Responses: []string{}, Errors: []string{}}
	var lastErr error
	for range tries {
		out, err := dial()
		lastErr = err
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		res.Responses = append(res.Responses, out)
	}
	w.Header().Set("Content-Type", "application/json")
	if lastErr != nil {
		w.WriteHeader(http.StatusExpectationFailed)
	}
	_ = json.NewEncoder(w).Encode(res)
}

const dialTimeout = 5 * time.Second

func dialHTTP(ctx context.Context, addr, request string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	path := request
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	// A connection per try, as upstream's agnhost dials: through a
	// Service each try is balanced anew.
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", addr, resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

func dialUDP(addr, request string) (string, error) {
	c, err := net.DialTimeout("udp", addr, dialTimeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(request)); err != nil {
		return "", err
	}
	buf := make([]byte, 64*1024)
	n, err := c.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
