package apiserver

import (
	"compress/gzip"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	netutils "k8s.io/utils/net"
)

// Response compression, as upstream's APIResponseCompression (on by
// default since 1.16): an API object or list response larger than 128 KiB
// is sent gzipped (level 1, the fastest) to a client whose Accept-Encoding
// allows gzip, as Go's HTTP client (so client-go and kubectl) asks unless
// told not to (kubectl --disable-compression). Smaller responses are sent
// as they are: for them gzip costs more CPU than the bytes it saves.
// Watches and the streaming subresources are never compressed.
//
// Clients in Config.DisableCompressionFor are never sent gzip, as
// upstream's --disable-compression-for-client-ips: on a fast link the
// compression costs both ends more CPU than the transfer it saves. The
// client is who upstream takes it to be: the first valid address in
// X-Forwarded-For, else X-Real-Ip, else the connection's peer, so that
// a client behind a proxy is judged by its own address.

// gzipThreshold is the size a response must pass to be compressed.
const gzipThreshold = 128 << 10

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// compressing returns the writer an API object response should be
// encoded to, and the function that completes the response once it is.
// Requests that may not be compressed get w itself.
func (s *Server) compressing(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	if _, nested := w.(*gzipResponse); nested || !acceptsGzip(r.Header.Get("Accept-Encoding")) || s.compressionDisabledFor(r) {
		return w, func() {}
	}
	g := &gzipResponse{ResponseWriter: w, code: http.StatusOK}
	return g, g.finish
}

// compressionDisabledFor reports whether r's client (clientIP) is in
// Config.DisableCompressionFor.
func (s *Server) compressionDisabledFor(r *http.Request) bool {
	if len(s.cfg.DisableCompressionFor) == 0 {
		return false
	}
	ip, ok := clientIP(r)
	if !ok {
		return false
	}
	for _, p := range s.cfg.DisableCompressionFor {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is r's client as upstream's GetClientIP finds it: the first
// valid address in X-Forwarded-For (a proxy chain lists the client
// first), else X-Real-Ip, else the connection's peer. Without those
// headers it allocates nothing: it runs for every response.
func clientIP(r *http.Request) (netip.Addr, bool) {
	if h := r.Header.Get("X-Forwarded-For"); h != "" {
		for part := range strings.SplitSeq(h, ",") {
			if ip, ok := parseIPSloppy(strings.TrimSpace(part)); ok {
				return ip, true
			}
		}
	}
	if h := r.Header.Get("X-Real-Ip"); h != "" {
		if ip, ok := parseIPSloppy(h); ok {
			return ip, true
		}
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap(), true // an IPv4 client on a dual-stack socket
	}
	return parseIPSloppy(r.RemoteAddr) // a peer given without a port
}

// parseIPSloppy parses an address as upstream's ParseIPSloppy does,
// which also takes IPv4 octets with leading zeros (as decimal); an
// IPv4-mapped IPv6 address is its IPv4 one.
func parseIPSloppy(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), true
	}
	ip, ok := netip.AddrFromSlice(netutils.ParseIPSloppy(s))
	return ip.Unmap(), ok
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: the
// coding listed (or "*") with a quality above zero.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if !strings.EqualFold(coding, "gzip") && coding != "*" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// gzipResponse holds back the status and the first gzipThreshold bytes of
// a response: a response that ends within them is sent as it is (with any
// Content-Length its encoder set); a longer one is sent gzipped from its
// first byte, without Content-Length.
type gzipResponse struct {
	http.ResponseWriter
	code      int
	held      []byte
	committed bool
	gz        *gzip.Writer
}

func (g *gzipResponse) WriteHeader(code int) {
	if !g.committed {
		g.code = code
	}
}

func (g *gzipResponse) Write(p []byte) (int, error) {
	switch {
	case g.gz != nil:
		return g.gz.Write(p)
	case g.committed:
		return g.ResponseWriter.Write(p)
	case len(g.held)+len(p) <= gzipThreshold:
		g.held = append(g.held, p...)
		return len(p), nil
	}
	h := g.Header()
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	h.Add("Vary", "Accept-Encoding")
	g.committed = true
	g.ResponseWriter.WriteHeader(g.code)
	g.gz = gzipWriters.Get().(*gzip.Writer)
	g.gz.Reset(g.ResponseWriter)
	if len(g.held) > 0 {
		if _, err := g.gz.Write(g.held); err != nil {
			return 0, err
		}
		g.held = nil
	}
	return g.gz.Write(p)
}

// finish sends what was held back, or ends the gzip stream.
func (g *gzipResponse) finish() {
	switch {
	case g.gz != nil:
		_ = g.gz.Close()
		g.gz.Reset(nil)
		gzipWriters.Put(g.gz)
		g.gz = nil
	case !g.committed:
		g.committed = true
		g.ResponseWriter.WriteHeader(g.code)
		if len(g.held) > 0 {
			_, _ = g.ResponseWriter.Write(g.held)
		}
	}
}
