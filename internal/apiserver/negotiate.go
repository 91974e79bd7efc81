package apiserver

import (
	"mime"
	"net/http"
	"strings"
)

// Media types skiff speaks.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// outputFormat is the negotiated shape of a response.
type outputFormat struct {
	// MediaType is mediaJSON, mediaYAML or mediaProtobuf.
	MediaType string
	// As is "", "Table", "PartialObjectMetadata",
	// "PartialObjectMetadataList" or "APIGroupDiscoveryList".
	As string
	// Version of the As kind ("v1", "v1beta1", "v2").
	Version string
}

// negotiate picks the first acceptable entry of the Accept header.
// Conversions (as=Table, ...) are only considered where allowed lists them.
// ok is false when nothing offered is acceptable (406).
func negotiate(r *http.Request, allowed ...string) (outputFormat, bool) {
	accept := r.Header.Get("Accept")
	if strings.TrimSpace(accept) == "" {
		return outputFormat{MediaType: mediaJSON}, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		var base string
		switch mt {
		case mediaJSON, "application/*", "*/*":
			base = mediaJSON
		case mediaYAML:
			base = mediaYAML
		case mediaProtobuf:
			base = mediaProtobuf
		default:
			continue
		}
		as := params["as"]
		if as == "" {
			return outputFormat{MediaType: base}, true
		}
		if !contains(allowed, as) {
			continue
		}
		g, v := params["g"], params["v"]
		switch as {
		case "APIGroupDiscoveryList":
			if g != "apidiscovery.k8s.io" || v != "v2" {
				continue
			}
		default:
			if g != "meta.k8s.io" || (v != "v1" && v != "v1beta1") {
				continue
			}
		}
		if base == mediaYAML {
			continue
		}
		return outputFormat{MediaType: base, As: as, Version: v}, true
	}
	return outputFormat{}, false
}

// requestMediaType returns the media type of the request body.
func requestMediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
