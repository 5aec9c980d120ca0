"""Building blocks: layers, embeddings, MLPs and the denoising network. Imports nothing else of ramac."""
