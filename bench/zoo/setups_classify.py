"""The zoo's classification setups (one per row, as in setups.py)."""

from __future__ import annotations

from .cases import MLP, adam, adamw, data, epochs, model, sgd, wider

C = "classify"


def classify() -> list[tuple]:
    digits = data("saneloop.datasets.digits", num_classes=10)
    return [
        (
            "cls_iris_mlp",
            C,
            data("data.table", name="iris", test_size=40, num_classes=3)
            + model(MLP, in_features=4, out_features=3, hidden=32)
            + adamw(1e-2)
            + wider(64),
            epochs(100),
            "iris: 110 training rows, 40 test",
        ),
        (
            "cls_wine_narrow_mlp",
            C,
            data("data.table", name="wine", test_size=45, num_classes=3)
            + model(MLP, in_features=13, out_features=3, hidden=8)
            + adam(1e-3)
            + wider(16),
            epochs(100),
            "a narrow MLP (8 units) on a small table",
        ),
        (
            "cls_wine_sgd_wd",
            C,
            data("data.table", name="wine", test_size=45, num_classes=3)
            + model(MLP, in_features=13, out_features=3, hidden=64)
            + sgd(1e-2, weight_decay=1e-4)
            + wider(128),
            epochs(60),
            "SGD + momentum + weight decay",
        ),
        (
            "cls_digits_cnn_batchnorm_pool",
            C,
            digits + model("ConvNet", in_channels=1, out_features=10, hidden=16) + adamw(1e-3) + wider(32),
            epochs(20),
            "small CNN + BatchNorm + global average pooling",
        ),
        (
            "cls_digits_cnn_groupnorm_sgd",
            C,
            digits + model("ConvNet", in_channels=1, out_features=10, hidden=16, norm="group") + sgd(1e-2) + wider(32),
            epochs(30),
            "CNN + GroupNorm, SGD + momentum",
        ),
        (
            "cls_digits_cnn_layernorm_flat",
            C,
            digits
            + model("ConvNet", in_channels=1, out_features=10, hidden=16, norm="layer", pool="flatten")
            + adam(1e-3)
            + wider(32),
            epochs(5),
            "CNN + LayerNorm, flattened (no pooling)",
        ),
        (
            "cls_digits_cnn_plain_pool",
            C,
            digits + model("ConvNet", in_channels=1, out_features=10, hidden=16, norm="none") + adam(3e-3) + wider(32),
            epochs(30),
            "CNN without normalisation, global pooling",
        ),
        (
            "cls_digits_resnet_sgd_wd",
            C,
            digits
            + model("ResNet", in_channels=1, out_features=10, hidden=16)
            + sgd(1e-2, weight_decay=5e-4)
            + wider(32),
            epochs(8),
            "a small ResNet (BatchNorm), SGD + weight decay",
        ),
        (
            "cls_digits_mlp_dropout_wd",
            C,
            digits
            + model(MLP, in_features=64, out_features=10, hidden=256, dropout=0.5)
            + adamw(1e-3, 0.1)
            + wider(512),
            epochs(10),
            "dropout 0.5, weight decay 0.1",
        ),
        (
            "cls_digits_mlp_adam_1e-4",
            C,
            digits + model(MLP, in_features=64, out_features=10, hidden=256) + adam(1e-4) + wider(512),
            epochs(20),
            "Adam at 1e-4",
        ),
        (
            "cls_digits_mlp_adamw_1e-2",
            C,
            digits + model(MLP, in_features=64, out_features=10, hidden=128) + adamw(1e-2) + wider(256),
            epochs(5),
            "AdamW at 1e-2",
        ),
        (
            "cls_digits_small",
            C,
            data("data.digits_subset", train_size=300, test_size=40, num_classes=10)
            + model(MLP, in_features=64, out_features=10, hidden=64)
            + adamw(1e-3)
            + wider(128),
            epochs(40),
            "300 training images, 40 test",
        ),
        (
            "cls_digits_tiny_cnn_batchnorm",
            C,
            data("data.digits_subset", train_size=150, test_size=40, num_classes=10)
            + model("ConvNet", in_channels=1, out_features=10, hidden=8)
            + adam(3e-3)
            + wider(16),
            epochs(150),
            "150 training images, normalised CNN + global pooling",
        ),
        (
            "cls_digits_resmlp_batchnorm_sgd",
            C,
            digits
            + model("ResMLP", in_features=64, out_features=10, hidden=128, norm="batch")
            + sgd(1e-2)
            + wider(256),
            epochs(10),
            "residual MLP with BatchNorm, SGD",
        ),
        (
            "cls_blobs_100_classes",
            C,
            data("data.blobs", n=10000, classes=100, dim=32, test_size=2000, separation=0.5, num_classes=100)
            + model(MLP, in_features=32, out_features=100, hidden=256)
            + adamw(1e-3)
            + wider(512),
            epochs(5),
            "100 balanced classes, 10,000 examples",
        ),
        (
            "cls_blobs_100_zipf",
            C,
            data(
                "data.blobs",
                n=5000,
                classes=100,
                dim=32,
                test_size=1000,
                zipf=1.0,
                separation=0.6,
                min_count=6,
                num_classes=100,
            )
            + model(MLP, in_features=32, out_features=100, hidden=128)
            + adam(1e-3)
            + wider(256),
            epochs(8),
            "100 classes, Zipf-imbalanced (largest ~960, smallest 6)",
        ),
        (
            "cls_blobs_2_overlap_sgd",
            C,
            data("data.blobs", n=2000, classes=2, dim=8, test_size=400, separation=0.5, num_classes=2)
            + model(MLP, in_features=8, out_features=2, hidden=32)
            + sgd(1e-2)
            + wider(64),
            epochs(10),
            "2 overlapping classes with a 2-logit head",
        ),
        (
            "cls_blobs_3_imbalanced",
            C,
            data("data.blobs", n=5000, classes=3, dim=8, test_size=1000, zipf=3.3, separation=0.7, num_classes=3)
            + model(MLP, in_features=8, out_features=3, hidden=64)
            + adamw(3e-3)
            + wider(128),
            epochs(5),
            "3 classes at about 89% / 9% / 2%",
        ),
        (
            "cls_waves_gru",
            C,
            data("sequences.waves", n=3000, classes=4, num_classes=4)
            + model("RNNNet", in_features=3, out_features=4, hidden=32, cell="gru")
            + adam(3e-3)
            + wider(64),
            epochs(10),
            "noisy sine frequencies, GRU (batch-first)",
        ),
        (
            "cls_waves_lstm_time_major",
            C,
            data("sequences.waves", n=3000, classes=6, num_classes=6)
            + model("RNNNet", in_features=3, out_features=6, hidden=32, cell="lstm", batch_first=False, pool="mean")
            + adam(3e-3)
            + wider(64),
            epochs(10),
            "LSTM time-major, mean over time",
        ),
        (
            "cls_tokens_transformer",
            C,
            data("sequences.majority_token", num_classes=4)
            + model("TokenTransformer", vocab_size=12, out_features=4, hidden=32)
            + adamw(1e-3)
            + wider(64),
            epochs(10),
            "token sequences, transformer encoder with dropout, mean pooling",
        ),
        (
            "cls_bars_cnn_batchnorm",
            C,
            data("sequences.bars", num_classes=4)
            + model("ConvNet", in_channels=3, out_features=4, hidden=16, image_size=12)
            + adamw(1e-3)
            + wider(32),
            epochs(8),
            "RGB 12x12 bars, CNN + BatchNorm + pooling",
        ),
        (
            "cls_bars_resnet_adam",
            C,
            data("sequences.bars", num_classes=4)
            + model("ResNet", in_channels=3, out_features=4, hidden=16)
            + adam(1e-3)
            + wider(32),
            epochs(8),
            "RGB bars, small ResNet",
        ),
    ]
