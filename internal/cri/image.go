package cri

import (
	"context"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ListImages lists images matching filter (nil: all).
func (r *Remote) ListImages(ctx context.Context, filter *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.images.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: filter})
	if err != nil {
		return nil, r.wrap("ListImages", "", err)
	}
	return resp.Images, nil
}

// ImageStatus returns the image's status; a missing image is a response
// with a nil Image, not an error, as the CRI defines.
func (r *Remote) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: image, Verbose: verbose})
	if err != nil {
		return nil, r.wrap("ImageStatus", image.GetImage(), err)
	}
	return resp, nil
}

// PullImage pulls an image and returns its reference (usually the image
// ID). It is bounded by ctx only: large images take long, and the kubelet
// reports progress, not a timeout, for them.
func (r *Remote) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	resp, err := r.images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: image, Auth: auth, SandboxConfig: podSandboxConfig})
	if err != nil {
		return "", r.wrap("PullImage", image.GetImage(), err)
	}
	if resp.ImageRef == "" {
		return "", errNilResponse("image reference from PullImage for " + image.GetImage())
	}
	return resp.ImageRef, nil
}

// RemoveImage removes an image; removing a missing image is not an error.
func (r *Remote) RemoveImage(ctx context.Context, image *runtimeapi.ImageSpec) error {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	_, err := r.images.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: image})
	return r.wrap("RemoveImage", image.GetImage(), err)
}

// ImageFsInfo reports the usage of the filesystems holding images and
// containers' writable layers.
func (r *Remote) ImageFsInfo(ctx context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	ctx, cancel := r.callCtx(ctx, 0)
	defer cancel()
	resp, err := r.images.ImageFsInfo(ctx, &runtimeapi.ImageFsInfoRequest{})
	return resp, r.wrap("ImageFsInfo", "", err)
}
