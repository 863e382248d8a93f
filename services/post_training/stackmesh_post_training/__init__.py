"""The post_training service: fine-tuning jobs whose checkpoints become servable models, and synthetic data generation."""
