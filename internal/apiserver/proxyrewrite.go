package apiserver

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// rewritingTransport is the transport of pods/proxy and services/proxy:
// it tells the backend where it is served from (X-Forwarded-Uri) and
// rewrites absolute paths in the backend's redirects and HTML pages so
// that they stay beneath the API server's .../proxy prefix, as upstream's
// proxy transport does. A backend that wants links to stay as written
// uses relative ones.
type rewritingTransport struct {
	base http.RoundTripper
	// prefix is the API path ending in /proxy, unescaped.
	prefix string
	// backendHost is host:port of the backend; apiHost the Host the
	// client asked the API server for. Links to either are rewritten.
	backendHost, apiHost string
	forwardedProto       string
}

// newRewritingTransport rewrites for a request r proxied to backendHost
// beneath prefix.
func newRewritingTransport(base http.RoundTripper, r *http.Request, backendHost, prefix string) *rewritingTransport {
	t := &rewritingTransport{base: base, prefix: prefix, backendHost: backendHost, apiHost: r.Host, forwardedProto: "http"}
	if r.TLS != nil {
		t.forwardedProto = "https"
	}
	return t
}

// maxRewrittenHTML is the largest HTML page whose links are rewritten;
// a larger one passes as it is.
const maxRewrittenHTML = 16 << 20

func (t *rewritingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req.Header.Set("X-Forwarded-Uri", t.prefix+req.URL.Path)
	req.Header.Set("X-Forwarded-Host", t.apiHost)
	req.Header.Set("X-Forwarded-Proto", t.forwardedProto)
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// The API server's CORS policy is the one that applies.
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			delete(resp.Header, k)
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		resp.Header.Set("Location", t.rewriteURL(loc))
		return resp, nil
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct != "text/html" || req.Method == http.MethodHead {
		return resp, nil
	}
	return t.rewriteHTMLResponse(resp)
}

// rewriteURL puts an absolute path that points at the backend (or at the
// API server) beneath the prefix; relative links, links elsewhere and
// paths already beneath the prefix are left alone.
func (t *rewritingTransport) rewriteURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.Host != "" && u.Host != t.backendHost && u.Host != t.apiHost {
		return raw
	}
	if !strings.HasPrefix(u.Path, "/") {
		return raw
	}
	if u.Host != t.apiHost {
		// The backend's own address means nothing to the client.
		u.Scheme, u.Host = "", ""
	}
	if strings.HasPrefix(u.Path, t.prefix) {
		return u.String()
	}
	trailing := strings.HasSuffix(u.Path, "/")
	u.Path = path.Join(t.prefix, u.Path)
	if trailing && !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u.String()
}

// rewriteHTMLResponse rewrites the links of an HTML page, plain or
// gzipped; another encoding, or a page too large, passes as it is.
func (t *rewritingTransport) rewriteHTMLResponse(resp *http.Response) (*http.Response, error) {
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	if enc != "" && enc != "gzip" {
		return resp, nil
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRewrittenHTML+1))
	if err != nil {
		_ = resp.Body.Close()
		return nil, err
	}
	if len(raw) > maxRewrittenHTML {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(raw), resp.Body), resp.Body}
		return resp, nil
	}
	_ = resp.Body.Close()
	page := raw
	if enc == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if page, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	if enc == "gzip" {
		zw := gzip.NewWriter(&out)
		if err := rewriteHTML(bytes.NewReader(page), zw, t.rewriteURL); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
	} else if err := rewriteHTML(bytes.NewReader(page), &out, t.rewriteURL); err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(&out)
	resp.ContentLength = int64(out.Len())
	resp.Header.Set("Content-Length", strconv.Itoa(out.Len()))
	return resp, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// linkAttrs are the attributes, by element, that hold a URL.
var linkAttrs = map[atom.Atom][]string{
	atom.A:          {"href"},
	atom.Applet:     {"codebase"},
	atom.Area:       {"href"},
	atom.Audio:      {"src"},
	atom.Base:       {"href"},
	atom.Blockquote: {"cite"},
	atom.Body:       {"background"},
	atom.Button:     {"formaction"},
	atom.Command:    {"icon"},
	atom.Del:        {"cite"},
	atom.Embed:      {"src"},
	atom.Form:       {"action"},
	atom.Frame:      {"longdesc", "src"},
	atom.Head:       {"profile"},
	atom.Html:       {"manifest"},
	atom.Iframe:     {"longdesc", "src"},
	atom.Img:        {"longdesc", "src", "usemap"},
	atom.Input:      {"src", "usemap", "formaction"},
	atom.Ins:        {"cite"},
	atom.Link:       {"href"},
	atom.Object:     {"classid", "codebase", "data", "usemap"},
	atom.Q:          {"cite"},
	atom.Script:     {"src"},
	atom.Source:     {"src"},
	atom.Track:      {"src"},
	atom.Video:      {"poster", "src"},
}

// rewriteHTML copies a page, passing the URL attributes of its tags
// through rewrite; everything else is copied byte for byte.
func rewriteHTML(r io.Reader, w io.Writer, rewrite func(string) string) error {
	z := html.NewTokenizer(r)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() == io.EOF {
				return nil
			}
			return z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			raw := append([]byte(nil), z.Raw()...)
			tok := z.Token()
			attrs, ok := linkAttrs[tok.DataAtom]
			if !ok {
				if _, err := w.Write(raw); err != nil {
					return err
				}
				continue
			}
			changed := false
			for i := range tok.Attr {
				for _, name := range attrs {
					if tok.Attr[i].Namespace == "" && tok.Attr[i].Key == name {
						if v := rewrite(tok.Attr[i].Val); v != tok.Attr[i].Val {
							tok.Attr[i].Val, changed = v, true
						}
					}
				}
			}
			out := raw
			if changed {
				out = []byte(tok.String())
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
		default:
			if _, err := w.Write(z.Raw()); err != nil {
				return err
			}
		}
	}
}
