"""The "not a garment" detector (fmnist_utils.ood) and how the service uses it: scores against
their textbook definitions, the threshold fitted on validation data, and the service's answers
against the same computation done offline."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import fmnist_utils
from fmnist_utils import data, explain, ood, preprocess, serve

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def fmnist():
    return data.load_fashion_mnist()


@pytest.fixture(scope="module")
def client(small_model_path):
    from fastapi.testclient import TestClient

    with TestClient(serve.create_app(small_model_path)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def record(small_model_path) -> dict:
    return json.loads(small_model_path.with_suffix(".json").read_text())


# --------------------------------------------------------------------------------------------
# Scores and thresholds
# --------------------------------------------------------------------------------------------
def test_mahalanobis_score_is_the_distance_to_the_nearest_class_mean():
    from scipy.spatial.distance import mahalanobis

    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 4)) + np.repeat(np.eye(4)[:3] * 6, 100, axis=0)
    labels = np.repeat([0, 1, 2], 100)
    fitted = ood.Mahalanobis.fit(features, labels)
    np.testing.assert_allclose(fitted.means[1], features[100:200].mean(axis=0), rtol=1e-5)
    queries = rng.normal(size=(5, 4)) * 4
    expected = [
        -min(mahalanobis(q, m, fitted.precision.astype(np.float64)) ** 2 for m in fitted.means)
        for q in queries
    ]
    np.testing.assert_allclose(fitted.score(queries), expected, rtol=1e-4)


def test_energy_and_max_softmax_follow_their_definitions():
    from scipy.special import logsumexp, softmax

    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    table = ood.scores(logits, temperature=2.0)
    np.testing.assert_allclose(table["energy"], 2.0 * logsumexp(logits / 2.0, axis=1))
    np.testing.assert_allclose(table["max_softmax"], softmax(logits / 2.0, axis=1).max(axis=1))
    assert list(table.columns) == ["max_softmax", "energy"]  # no features: no Mahalanobis


def test_threshold_turns_away_the_asked_share_of_validation_scores():
    scores = np.random.default_rng(1).normal(size=10_000)
    threshold = ood.fit_threshold(scores, reject=0.05)
    assert np.mean(scores < threshold) == pytest.approx(0.05, abs=0.001)
    with pytest.raises(ValueError, match="between 0 and 1"):
        ood.fit_threshold(scores, reject=1.5)


def test_no_garment_images_are_repeatable_per_seed_and_of_every_kind():
    digits = np.full((3, 28, 28), 7, np.uint8)
    images, kinds = ood.no_garment_images(per_kind=4, seed=3, digits=digits)
    again, _ = ood.no_garment_images(per_kind=4, seed=3, digits=digits)
    other, _ = ood.no_garment_images(per_kind=4, seed=4, digits=digits)
    assert images.shape == (4 * len(ood.SYNTHETIC_KINDS) + 3, 28, 28) and images.dtype == np.uint8
    assert set(kinds.tolist()) == {*ood.SYNTHETIC_KINDS, "mnist"}
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, other)
    assert all(images[kinds == kind].max() > 100 for kind in ood.SYNTHETIC_KINDS)  # not blank
    with pytest.raises(ValueError, match="unknown kind"):
        ood.no_garment_images(per_kind=1, kinds=("clouds",))


# --------------------------------------------------------------------------------------------
# The trained service model: its record and the files beside it
# --------------------------------------------------------------------------------------------
def test_training_record_holds_calibration_fitted_on_validation(small_model_path, record):
    calibration = record["calibration"]
    detector = calibration["detector"]
    assert calibration["temperature"] > 0 and detector["score"] in ood.SCORES
    assert detector["reject"] == 0.04
    # the chosen score is the one that flagged the most validation no-garments
    flagged = {name: row["no_garments_flagged"] for name, row in record["ood_validation"].items()}
    assert flagged[detector["score"]] == max(flagged.values())
    # its threshold turned away about 4% of the validation garments
    assert record["ood_validation"][detector["score"]]["garments_rejected"] == pytest.approx(
        0.04, abs=0.005
    )
    assert small_model_path.with_suffix(".ood.npz").is_file() == (
        detector["score"] == "mahalanobis"
    )
    test = record["ood_test"]
    assert 0 <= test["garments_rejected"] < 0.2 and 0 <= test["no_garments_flagged"] <= 1
    assert set(test["per_kind"]) >= set(ood.SYNTHETIC_KINDS)


def test_health_reports_accuracy_calibration_and_threshold(client, record):
    quality = client.get("/health").json()["quality"]
    assert quality["test_accuracy"] == record["test_accuracy"] > 0.7
    assert quality["test_ece"] == record["test_ece"]
    assert quality["temperature"] == pytest.approx(record["calibration"]["temperature"])
    assert quality["ood"] == record["calibration"]["detector"]


# --------------------------------------------------------------------------------------------
# The service's answers against the same computation done offline
# --------------------------------------------------------------------------------------------
def test_service_verdicts_and_probabilities_match_the_offline_computation(
    client, small_model_path, record, fmnist
):
    from scipy.special import softmax

    fmnist_utils.quiet_tensorflow()
    model = serve.load_model(small_model_path)
    calibration = serve.load_calibration(small_model_path)
    (_, _), (x_test, _) = fmnist
    synthetic, _ = ood.no_garment_images(per_kind=2, seed=7)
    images = np.concatenate([x_test[:8], synthetic])
    kept, inputs = serve.through_photo_path(images)
    logits, features = ood.logits_and_features(model, preprocess.prepare(inputs))
    temperature, detector = calibration["temperature"], calibration["detector"]
    scores = ood.scores(logits, features, temperature, calibration["mahalanobis"])
    expected = softmax(logits / temperature, axis=1)
    answers = [client.post("/predict", files={"file": ("x.png", _png(im))}) for im in images]
    assert [a.status_code == 200 for a in answers] == kept.tolist()
    served = [a.json() for a in answers if a.status_code == 200]
    for answer, probs, score in zip(served, expected, scores[detector["score"]], strict=True):
        got = np.array([answer["probabilities"][name] for name in data.CLASS_NAMES])
        np.testing.assert_allclose(got, probs, atol=2e-5)
        assert answer["garment"]["score"] == pytest.approx(score, rel=1e-3, abs=1e-3)
        assert answer["garment"]["garment"] == bool(score >= detector["threshold"])
        assert answer["garment"]["answer"] == (
            "garment" if score >= detector["threshold"] else "not a garment / unsure"
        )


def test_most_test_garments_pass_and_most_checkerboards_do_not(client, fmnist):
    (_, _), (x_test, _) = fmnist
    garments = [
        client.post("/predict", files={"file": ("g.png", _png(im))}).json()["garment"]["garment"]
        for im in x_test[:40]
    ]
    boards, _ = ood.no_garment_images(per_kind=10, seed=5, kinds=("checkerboard", "stripes"))
    answers = [client.post("/predict", files={"file": ("b.png", _png(im))}) for im in boards]
    turned_away = [a.status_code != 200 or a.json()["garment"]["garment"] is False for a in answers]
    assert sum(garments) >= 34, f"{sum(garments)}/40 test garments passed"
    assert sum(turned_away) >= 15, f"{sum(turned_away)}/20 checkerboards and stripes turned away"


def test_compiled_gradcam_is_explain_grad_cam(small_model_path, fmnist):
    fmnist_utils.quiet_tensorflow()
    model = serve.load_model(small_model_path)
    predictor = serve.Predictor(model)
    (_, _), (x_test, _) = fmnist
    for image in x_test[:3]:
        batch = preprocess.prepare(image[None])
        answer = predictor.answer(batch)
        reference = explain.grad_cam(model, batch, class_index=int(answer.probabilities.argmax()))
        np.testing.assert_allclose(answer.heatmap, reference[0], atol=1e-4)
    assert predictor.detector is None and predictor.answer(batch).garment is None


def test_openapi_schema_describes_the_answer(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"Prediction", "GarmentVerdict", "Health", "ErrorBody"} <= set(schemas)
    assert "garment" in schemas["Prediction"]["properties"]
    assert "threshold" in schemas["GarmentVerdict"]["properties"]
