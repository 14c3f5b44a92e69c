"""Drawing meshes into images: the z-buffer rasterizer and its shading."""
