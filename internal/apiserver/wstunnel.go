package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// portForwardProtocol is the SPDY port-forward protocol; over a WebSocket
// kubectl asks for it as "SPDY/3.1+portforward.k8s.io" and sends the SPDY
// frames as binary messages.
const (
	portForwardProtocol     = "portforward.k8s.io"
	spdyTunnelingPrefix     = "SPDY/3.1+"
	portForwardTunnelingWS  = spdyTunnelingPrefix + portForwardProtocol
	kubeletUpgradeTimeout   = 30 * time.Second
	headerStreamProtocolVer = "X-Stream-Protocol-Version"
)

// tunnelPortForward serves a port-forward whose SPDY session runs inside
// a WebSocket: it opens the SPDY upgrade to the kubelet first (so a
// refusal is still an HTTP error the client can act on), then accepts
// the WebSocket and copies bytes between the two. The SPDY session
// itself is the client's and the kubelet's.
func (s *Server) tunnelPortForward(w http.ResponseWriter, r *http.Request, target *url.URL) {
	if !offersProtocol(r, portForwardTunnelingWS) {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("unsupported WebSocket subprotocol; this server tunnels only %q", portForwardTunnelingWS)))
		return
	}
	kubelet, kr, err := s.dialKubeletUpgrade(r.Context(), target, portForwardProtocol)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer func() { _ = kubelet.Close() }()
	ws := websocket.Server{
		Handshake: func(cfg *websocket.Config, _ *http.Request) error {
			cfg.Protocol = []string{portForwardTunnelingWS}
			return nil
		},
		Handler: func(conn *websocket.Conn) {
			conn.PayloadType = websocket.BinaryFrame
			spliceTunnel(conn, kubelet, kr)
		},
	}
	ws.ServeHTTP(hijackable{w}, r)
}

func offersProtocol(r *http.Request, want string) bool {
	for _, p := range strings.Split(r.Header.Get("Sec-Websocket-Protocol"), ",") {
		if strings.TrimSpace(p) == want {
			return true
		}
	}
	return false
}

// spliceTunnel copies WebSocket messages to the kubelet and the
// kubelet's bytes back as messages, until either side ends.
func spliceTunnel(ws *websocket.Conn, kubelet net.Conn, kr io.Reader) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(kubelet, ws)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(ws, kr)
		done <- struct{}{}
	}()
	<-done
	_ = kubelet.Close()
	_ = ws.Close()
	<-done
}

// dialKubeletUpgrade opens an SPDY upgrade to target for protocol and
// returns the upgraded connection and a reader holding any bytes read
// past the response.
func (s *Server) dialKubeletUpgrade(ctx context.Context, target *url.URL, protocol string) (net.Conn, io.Reader, error) {
	dialCtx, cancel := context.WithTimeout(ctx, kubeletUpgradeTimeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: s.kubelet.tls}
	conn, err := d.DialContext(dialCtx, "tcp", target.Host)
	if err != nil {
		return nil, nil, kubeletDialError(err)
	}
	req, err := http.NewRequest(http.MethodPost, target.String(), nil)
	if err != nil {
		_ = conn.Close()
		return nil, nil, kubeletDialError(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set(headerStreamProtocolVer, protocol)
	if deadline, ok := dialCtx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if err := req.Write(conn); err != nil {
		_ = conn.Close()
		return nil, nil, kubeletDialError(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		_ = conn.Close()
		return nil, nil, kubeletDialError(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer func() { _ = conn.Close() }()
		return nil, nil, kubeletResponseError(resp, podsPortForwardResource, "")
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, br, nil
}

var podsPortForwardResource = corev1.Resource("pods/portforward")
