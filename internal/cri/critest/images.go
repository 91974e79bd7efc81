package critest

import (
	"slices"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func testVersion(h *harness) {
	resp, err := h.rt.Version(h.ctx, "v1")
	if err != nil {
		h.t.Fatalf("Version: %v", err)
	}
	if resp.RuntimeApiVersion != "v1" || resp.RuntimeName == "" || resp.RuntimeVersion == "" {
		h.t.Fatalf("Version = %+v, want runtime API v1 with a name and version", resp)
	}
	h.t.Logf("runtime %s %s, API %s", resp.RuntimeName, resp.RuntimeVersion, resp.RuntimeApiVersion)
}

func testStatus(h *harness) {
	resp, err := h.rt.Status(h.ctx, false)
	if err != nil {
		h.t.Fatalf("Status: %v", err)
	}
	for _, c := range resp.Status.GetConditions() {
		if c.Type == runtimeapi.RuntimeReady {
			if !c.Status {
				h.t.Fatalf("RuntimeReady is false: %s %s", c.Reason, c.Message)
			}
			return
		}
	}
	h.t.Fatalf("Status has no RuntimeReady condition: %+v", resp.Status)
}

func testPullImage(h *harness) {
	spec := &runtimeapi.ImageSpec{Image: h.opts.Image}
	ref, err := h.img.PullImage(h.ctx, spec, nil, nil)
	if err != nil {
		h.t.Fatalf("PullImage %s: %v", h.opts.Image, err)
	}
	again, err := h.img.PullImage(h.ctx, spec, nil, nil)
	if err != nil || again != ref {
		h.t.Fatalf("second PullImage = %q, %v; want %q again", again, err, ref)
	}

	st, err := h.img.ImageStatus(h.ctx, spec, false)
	if err != nil {
		h.t.Fatalf("ImageStatus %s: %v", h.opts.Image, err)
	}
	if st.Image == nil {
		h.t.Fatalf("ImageStatus %s: no image after a successful pull", h.opts.Image)
	}
	if st.Image.Id != ref {
		h.t.Errorf("image ID %q, PullImage returned %q", st.Image.Id, ref)
	}
	if want := normalizeImage(h.opts.Image); !slices.Contains(st.Image.RepoTags, want) {
		h.t.Errorf("image repo tags %v lack %q", st.Image.RepoTags, want)
	}
	if st.Image.Size == 0 {
		h.t.Errorf("image %s has size 0", h.opts.Image)
	}

	images, err := h.img.ListImages(h.ctx, nil)
	if err != nil {
		h.t.Fatalf("ListImages: %v", err)
	}
	if !slices.ContainsFunc(images, func(i *runtimeapi.Image) bool { return i.Id == ref }) {
		h.t.Errorf("ListImages lacks %s (%s)", h.opts.Image, ref)
	}

	missing, err := h.img.ImageStatus(h.ctx, &runtimeapi.ImageSpec{Image: "critest.invalid/never-pulled:" + h.runID}, false)
	if err != nil || missing.Image != nil {
		h.t.Errorf("ImageStatus of an absent image = %v, %v; want no image and no error", missing, err)
	}
	if h.opts.MissingImage != "" {
		if _, err := h.img.PullImage(h.ctx, &runtimeapi.ImageSpec{Image: h.opts.MissingImage}, nil, nil); err == nil {
			h.t.Errorf("PullImage %s succeeded; want an error", h.opts.MissingImage)
		}
	}
}
