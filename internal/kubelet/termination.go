package kubelet

import (
	"bytes"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Termination message limits, as upstream's.
const (
	maxTerminationMessage = 4096
	fallbackLogLines      = 80
	fallbackLogBytes      = 2048
)

// terminationMessage is what an exited container left: the runtime's
// message if it has one, else the file mounted at its
// terminationMessagePath, else, with FallbackToLogsOnError and a failed
// exit, the tail of its log.
func (k *Kubelet) terminationMessage(c *runtimeContainer) string {
	if c.Message != "" {
		return c.Message
	}
	path := c.Annotations[annotationTerminationPath]
	if path != "" {
		for _, m := range c.Mounts {
			if m.ContainerPath == path && m.HostPath != "" {
				if msg := readLimited(m.HostPath, maxTerminationMessage); msg != "" {
					return msg
				}
			}
		}
	}
	if c.Annotations[annotationTerminationPolicy] == string(corev1.TerminationMessageFallbackToLogsOnError) &&
		c.ExitCode != 0 && c.LogPath != "" {
		return tailLog(c.LogPath, fallbackLogLines, fallbackLogBytes)
	}
	return ""
}

func readLimited(path string, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, limit))
	return string(data)
}

// tailLog returns the last lines of a CRI-format log (at most maxBytes),
// with the CRI prefix (time, stream, tag) stripped and partial lines
// joined.
func tailLog(path string, lines int, maxBytes int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	// Read a generous window from the end; CRI prefixes are ~40 bytes.
	window := maxBytes*4 + int64(lines)*48
	if st, err := f.Stat(); err == nil && st.Size() > window {
		_, _ = f.Seek(st.Size()-window, io.SeekStart)
	}
	data, _ := io.ReadAll(f)
	var out []string
	var partial strings.Builder
	for _, line := range bytes.Split(data, []byte("\n")) {
		fields := bytes.SplitN(line, []byte(" "), 4)
		if len(fields) < 4 {
			continue
		}
		partial.Write(fields[3])
		if string(fields[2]) == "P" {
			continue
		}
		out = append(out, partial.String())
		partial.Reset()
	}
	if len(out) > lines {
		out = out[len(out)-lines:]
	}
	msg := strings.Join(out, "\n")
	if len(out) > 0 {
		msg += "\n"
	}
	if int64(len(msg)) > maxBytes {
		msg = msg[int64(len(msg))-maxBytes:]
	}
	return msg
}
