"""What customers write, read offline: segmentation, keywords, topics and sentiment."""
