package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	streamspdy "k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// remoteCommandV5 is the WebSocket exec/attach protocol kubectl speaks:
// each message starts with its channel (0 stdin, 1 stdout, 2 stderr,
// 3 error, 4 resize); 255 half-closes a channel (stdin's end).
const remoteCommandV5 = "v5.channel.k8s.io"

// translateRemoteCommand serves a WebSocket exec or attach by running it
// as an SPDY stream against the kubelet (container runtimes speak SPDY),
// copying each channel to its stream, and reporting the outcome on the
// error channel as a Status, as the v4 protocol does.
func (s *Server) translateRemoteCommand(w http.ResponseWriter, r *http.Request, target *url.URL, o remoteCommandOptions) {
	channel := func(on bool, t wsstream.ChannelType) wsstream.ChannelType {
		if on {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := []wsstream.ChannelType{
		channel(o.stdin, wsstream.ReadChannel),
		channel(o.stdout, wsstream.WriteChannel),
		channel(o.stderr, wsstream.WriteChannel),
		wsstream.WriteChannel,
		channel(o.tty, wsstream.ReadChannel),
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{remoteCommandV5: {Binary: true, Channels: channels}})
	_, streams, err := conn.Open(hijackable{w}, r)
	if err != nil {
		s.log.Debug("websocket exec: opening the client's connection", "err", err)
		return
	}
	defer func() { _ = conn.Close() }()
	errorStream := streams[3]

	rt, err := streamspdy.NewRoundTripperWithConfig(streamspdy.RoundTripperConfig{TLS: s.kubelet.tls})
	if err != nil {
		writeStreamStatus(errorStream, err)
		return
	}
	executor, err := remotecommand.NewSPDYExecutorForTransports(rt, clientspdy.NewUpgraderForStreaming(rt), http.MethodPost, target)
	if err != nil {
		writeStreamStatus(errorStream, err)
		return
	}
	// A hijacked connection's request context does not end with the
	// client; a failed write to the client does, and ends the stream.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	opts := remotecommand.StreamOptions{Tty: o.tty}
	if o.stdin {
		opts.Stdin = streams[0]
	}
	if o.stdout {
		opts.Stdout = cancelOnError{streams[1], cancel}
	}
	if o.stderr {
		opts.Stderr = cancelOnError{streams[2], cancel}
	}
	if o.tty {
		opts.TerminalSizeQueue = &resizeQueue{dec: json.NewDecoder(streams[4])}
	}
	writeStreamStatus(errorStream, executor.StreamWithContext(ctx, opts))
}

// cancelOnError cancels the stream once the client cannot be written to.
type cancelOnError struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (c cancelOnError) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.cancel()
	}
	return n, err
}

// resizeQueue reads the client's terminal sizes from the resize channel.
type resizeQueue struct{ dec *json.Decoder }

func (q *resizeQueue) Next() *remotecommand.TerminalSize {
	var size remotecommand.TerminalSize
	if err := q.dec.Decode(&size); err != nil {
		return nil
	}
	return &size
}

// writeStreamStatus reports a command's end on the error channel: a
// Success, a NonZeroExitCode with the code, or the failure's message.
func writeStreamStatus(w io.Writer, err error) {
	st := metav1.Status{Status: metav1.StatusSuccess}
	var exitErr exec.CodeExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		st = metav1.Status{Status: metav1.StatusFailure, Reason: "NonZeroExitCode", Code: http.StatusInternalServerError,
			Message: "command terminated with non-zero exit code: exit status " + strconv.Itoa(exitErr.Code),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exitErr.Code)}}}}
	default:
		st = metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Code: http.StatusInternalServerError,
			Message: err.Error()}
	}
	st.Kind, st.APIVersion = "Status", "v1"
	data, _ := json.Marshal(st)
	_, _ = w.Write(data)
}
