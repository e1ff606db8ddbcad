"""Speech recognition: the pipeline on tone "words" (labels known exactly), streaming == offline, the network's
pads and causality, save/load, the command line and bad input; a tiny espeak-ng corpus where espeak-ng is installed."""
import json
import shutil

import numpy as np
import pytest
import torch

from crashes import Crash, CrashAfterEpoch
from lstmkit.cli import main
from lstmkit.data.padding import pad_sequences
from lstmkit.errors import DataError, UserError
from lstmkit.tasks.speech import SpeechConfig, SpeechNet, SpeechRecognizer, StreamingTranscriber
from lstmkit.tasks.speech.corpus import read_corpus, split_corpus
from lstmkit.tasks.speech.synth import asterisk_prompts, tone_corpus

pytest.importorskip("soundfile")

# Tones carry their whole message in one frequency band, which frequency masking would erase: off here.
FAST = dict(epochs=20, patience=20, hidden_size=64, num_layers=1, conv_channels=32, batch_size=16, lr=1e-2,
            freq_masks=0, time_masks=0)


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tones")
    tone_corpus(folder, count=300, speakers=10, seed=0)
    return folder


@pytest.fixture(scope="module")
def fitted(tones):
    torch.set_num_threads(1)
    return SpeechRecognizer(SpeechConfig(**FAST)).fit(str(tones))


def test_it_learns_the_tone_words_on_held_out_speakers_and_beats_dtw(fitted, tones):
    result = fitted.evaluate(str(tones))
    split = result["split"]
    assert split["by"] == "speaker" and split["evaluated"] == "test" and split["files"] == split["test"] == 30
    greedy, beam = result["model"]["greedy"], result["model"]["beam"]
    dtw = result["baselines"]["dtw_template"]
    assert greedy["cer"] < 0.1 and beam["cer"] <= greedy["cer"] + 0.02  # measured 0.00-0.03 over three seeds
    assert greedy["cer"] < dtw["cer"] - 0.2  # one template per word does not carry to other "voices"
    assert dtw["templates"] > 30
    frame = result["predictions"]
    assert list(frame.columns) == ["path", "transcript", "greedy", "beam", "dtw_template"]
    from lstmkit.metrics.speech import cer
    assert cer(list(frame["transcript"]), list(frame["greedy"])) == pytest.approx(greedy["cer"])


def test_whole_speakers_are_held_out(tones):
    corpus = read_corpus(str(tones), SpeechConfig())
    train, val, test, how = split_corpus(corpus, SpeechConfig())
    speakers = [set(corpus.speakers[i] for i in part) for part in (train, val, test)]
    assert how == "speaker" and all(speakers)
    assert not (speakers[0] & speakers[2]) and not (speakers[0] & speakers[1]) and not (speakers[1] & speakers[2])
    assert len(train) + len(val) + len(test) == len(corpus)


def test_feature_statistics_come_from_the_training_part(fitted, tones):
    corpus = read_corpus(str(tones), fitted.config)
    train = split_corpus(corpus, fitted.config)[0]
    feats = fitted.features_of_files([corpus.paths[i] for i in train], normalised=False)
    rows = torch.cat(feats).double()
    np.testing.assert_allclose(fitted.state.mean, rows.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fitted.state.std, rows.std(0, unbiased=False), rtol=1e-3)
    everything = torch.cat(fitted.features_of_files(corpus.paths, normalised=False)).double()
    assert not np.allclose(fitted.state.mean, everything.mean(0), rtol=1e-4, atol=1e-4)


def test_pads_never_change_an_utterance_output():
    torch.manual_seed(0)
    for bidirectional in (True, False):
        for conv in (0, 8):
            model = SpeechNet("ctc", input_size=6, num_outputs=5, hidden_size=8, num_layers=2,
                              bidirectional=bidirectional, conv_channels=conv).eval()
            short, long = torch.randn(7, 6), torch.randn(16, 6)
            x, lengths = pad_sequences([short, long])
            (together, out_lengths) = model((x, lengths))
            alone, alone_lengths = model((short.unsqueeze(0), torch.tensor([7])))
            assert out_lengths.tolist() == ([4, 8] if conv else [7, 16]) and alone_lengths.tolist() == [out_lengths[0]]
            torch.testing.assert_close(together[0, : int(out_lengths[0])], alone[0], rtol=0, atol=1e-5)


def test_a_streaming_model_never_reads_the_future():
    torch.manual_seed(1)
    model = SpeechNet("ctc", input_size=6, num_outputs=5, hidden_size=8, num_layers=2, bidirectional=False,
                      conv_channels=8, conv_kernel=5).eval()
    x = torch.randn(1, 20, 6)
    changed = x.clone()
    changed[:, 11:] = torch.randn(1, 9, 6)
    a, _ = model((x, torch.tensor([20])))
    b, _ = model((changed, torch.tensor([20])))
    # output frame j reads input frames up to 2j: frames 0..5 (inputs 0..10) are unchanged, frame 6 is not
    torch.testing.assert_close(a[:, :6], b[:, :6], rtol=0, atol=0)
    assert not torch.allclose(a[:, 6], b[:, 6])


@pytest.fixture(scope="module")
def streaming(tones):
    torch.set_num_threads(1)
    return SpeechRecognizer(SpeechConfig(**{**FAST, "bidirectional": False})).fit(str(tones))


@pytest.mark.parametrize("chunk", [1, 160, 1037, 4000])
def test_streaming_transcript_equals_the_offline_one(streaming, tones, chunk):
    from lstmkit.data.audio import read_audio

    assert streaming.config.normalization == "global"
    corpus = read_corpus(str(tones), streaming.config)
    paths = corpus.paths[:12]
    offline = streaming.transcribe(paths)
    assert sum(map(bool, offline)) >= 6  # the model says something
    if chunk == 1:  # a sample at a time is slow: three files
        paths, offline = paths[:3], offline[:3]
    for path, expected in zip(paths, offline):
        samples = read_audio(path, 16000)
        stream = StreamingTranscriber(streaming)
        pieces = [stream.push(samples[s:s + chunk]) for s in range(0, len(samples), chunk)]
        assert "".join(pieces) == stream.text == expected
        assert stream.frames == len(streaming.network_outputs(streaming.features_of_files([path]))[0])


def test_streaming_refuses_a_bidirectional_model(fitted):
    with pytest.raises(UserError, match="--unidirectional"):
        StreamingTranscriber(fitted)


def test_keywords_mode_labels_whole_utterances(tmp_path):
    tone_corpus(tmp_path, count=160, speakers=8, max_letters=1, seed=3)
    app = SpeechRecognizer(SpeechConfig(**{**FAST, "task": "keywords", "epochs": 20, "lr": 3e-3})).fit(str(tmp_path))
    result = app.evaluate(str(tmp_path))
    assert app.state.classes == list("abcd") and not app.state.alphabet
    assert result["model"]["accuracy"] >= 0.8  # chance: 1/4
    assert result["model"]["wer"] == pytest.approx(1 - result["model"]["accuracy"])
    assert "accuracy" in result["baselines"]["dtw_template"]


def test_save_load_gives_the_same_transcripts(fitted, tones, tmp_path):
    fitted.save(tmp_path / "run")
    again = SpeechRecognizer.load(tmp_path / "run")
    paths = read_corpus(str(tones), fitted.config).paths[:8]
    assert again.transcribe(paths) == fitted.transcribe(paths)
    assert again.state.alphabet == list("abcd")


def test_the_training_corpus_is_recognised_however_it_is_named(fitted, tones, tmp_path):
    by_table = fitted.evaluate(str(tones / "labels.csv"), baselines=False)
    copy = tmp_path / "copy"
    shutil.copytree(tones, copy)
    by_copy = fitted.evaluate(str(copy), baselines=False)
    for result in (by_table, by_copy):
        assert result["split"]["evaluated"] == "test" and result["split"]["files"] == 30
    assert [p.split("/")[-1] for p in by_copy["predictions"]["path"]] == \
        [p.split("/")[-1] for p in by_table["predictions"]["path"]]
    assert fitted.evaluate(str(copy), part="all", baselines=False)["split"]["files"] == 300


def test_another_corpus_is_evaluated_whole_and_unknown_characters_are_refused(fitted, tmp_path):
    other = tmp_path / "other"
    tone_corpus(other, count=12, speakers=2, seed=9)
    result = fitted.evaluate(str(other))
    assert result["split"]["evaluated"] == "all" and result["split"]["files"] == 12
    two = tmp_path / "two"
    tone_corpus(two, count=2, speakers=1, seed=10)
    assert fitted.evaluate(str(two), baselines=False)["split"]["files"] == 2
    labels = other / "labels.csv"
    labels.write_text(labels.read_text().replace(",a", ",az", 1))
    with pytest.raises(DataError, match=r"outside the model's alphabet 'abcd'"):
        fitted.evaluate(str(other), baselines=False)


def test_command_line_train_transcribe_evaluate(tones, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["speech", "train", str(tones), "--out", str(out), "--epochs", "3", "--hidden-size", "16", "--layers", "1",
            "--conv-channels", "8", "--batch-size", "32", "--threads", "1"]
    assert main(args) == 0
    assert {"config.json", "model.safetensors", "metrics.json", "predictions.csv", "alphabet.txt",
            "history.csv"} <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["model"]) == {"greedy", "beam"} and "dtw_template" in metrics["baselines"]
    assert metrics["epochs"] == 3
    capsys.readouterr()
    wav = sorted(tones.rglob("*.wav"))[0]
    assert main(["speech", "transcribe", "--model", str(out), str(wav), "--beam", "4", "--plot", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / f"000_{wav.stem}.png").is_file()
    assert main(["speech", "evaluate", "--model", str(out), str(tones), "--no-baselines",
                 "--out", str(tmp_path / "m.json")]) == 0
    assert "LSTM greedy" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.json").read_text())["split"]["evaluated"] == "test"


def test_lm_fusion_is_reported_beside_best_path_and_beam(fitted, tones):
    from lstmkit.decoding.ctc import NGramCharLM

    texts = [t for t in read_corpus(str(tones), fitted.config).transcripts]
    lm = NGramCharLM([None, *fitted.state.alphabet], order=3).fit(texts)
    result = fitted.evaluate(str(tones), lm=lm, lm_weight=0.3, baselines=False)
    fused = result["model"]["beam_lm"]
    assert fused["lm_weight"] == 0.3 and fused["width"] == 16 and 0 <= fused["cer"] <= 1
    assert "beam_lm" in result["predictions"].columns


def test_a_resumed_run_equals_an_uninterrupted_one_spec_augment_included(tones, tmp_path):
    from safetensors.torch import load_file

    from lstmkit.tasks.base import train_run

    config = SpeechConfig(**{**FAST, "epochs": 3, "hidden_size": 16, "time_masks": 2, "freq_masks": 1,
                             "baselines": False})
    whole = train_run(SpeechRecognizer(config), str(tones), tmp_path / "whole")
    killed = SpeechRecognizer(config)
    killed.callbacks.append(CrashAfterEpoch(2))
    with pytest.raises(Crash):
        train_run(killed, str(tones), tmp_path / "killed")
    resumed = train_run(SpeechRecognizer(SpeechConfig(hidden_size=99)), str(tones), tmp_path / "killed", resume=True)
    assert resumed["model"] == whole["model"] and resumed["epochs"] == 3
    weights = [load_file(tmp_path / d / "model.safetensors") for d in ("whole", "killed")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_an_utterance_too_short_for_its_transcript_is_refused(tones, tmp_path):
    corpus = tmp_path / "c"
    shutil.copytree(tones, corpus)
    labels = corpus / "labels.csv"
    lines = labels.read_text().splitlines()
    path, _, speaker = lines[1].split(",")
    lines[1] = f"{path},{'abcd' * 14},{speaker}"
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="cannot hold the .* CTC steps"):
        SpeechRecognizer(SpeechConfig(**{**FAST, "epochs": 1})).fit(str(corpus))


def test_bad_audio_is_one_line(tones, tmp_path, capsys):
    corpus = tmp_path / "bad"
    shutil.copytree(tones, corpus)
    victim = sorted(corpus.rglob("*.wav"))[5]
    victim.write_text("not audio")
    assert main(["speech", "train", str(corpus), "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and victim.name in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
    from lstmkit.data.audio import write_audio

    write_audio(tmp_path / "short.wav", np.zeros(100, np.float32), 16000)
    assert main(["speech", "transcribe", "--model", str(tmp_path / "nomodel"), str(tmp_path / "short.wav")]) == 2
    capsys.readouterr()


def test_transcribe_refuses_a_clip_too_short_and_stream_options_it_would_ignore(streaming, tmp_path, capsys):
    from lstmkit.data.audio import write_audio

    streaming.save(tmp_path / "run")
    write_audio(tmp_path / "short.wav", np.zeros(100, np.float32), 16000)
    assert main(["speech", "transcribe", "--model", str(tmp_path / "run"), str(tmp_path / "short.wav")]) == 2
    assert "shorter than two analysis frames (35 ms)" in capsys.readouterr().err
    assert main(["speech", "transcribe", "--model", str(tmp_path / "run"), "--stream", "--beam", "4", "x.wav"]) == 2
    assert "--beam need(s) the whole utterance" in capsys.readouterr().err


def test_stream_from_standard_input(streaming, tones, tmp_path, capsys, monkeypatch):
    import io
    import sys

    from lstmkit.data.audio import read_audio

    streaming.save(tmp_path / "run")
    wav = read_corpus(str(tones), streaming.config).paths[3]
    expected = streaming.transcribe([wav])[0]
    pcm = (read_audio(wav, 16000) * 32767).astype("<i2").tobytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pcm)))
    assert main(["speech", "transcribe", "--model", str(tmp_path / "run"), "--stream", "-"]) == 0
    assert capsys.readouterr().out.strip() == expected
    assert main(["speech", "transcribe", "--model", str(tmp_path / "run"), "--stream", str(wav), "--chunk-ms", "30"]) == 0
    assert capsys.readouterr().out.strip() == expected


def test_bad_labels_tables_are_refused(tmp_path):
    (tmp_path / "labels.csv").write_text("file,text\na.wav,hello\n")
    with pytest.raises(DataError, match="expected columns 'path' and 'transcript'"):
        read_corpus(str(tmp_path), SpeechConfig())
    (tmp_path / "labels.csv").write_text("path,transcript\nmissing.wav,hello\n")
    with pytest.raises(UserError, match="line 2: audio file 'missing.wav' not found"):
        read_corpus(str(tmp_path), SpeechConfig())


def test_file_and_folder_names_are_labels(tmp_path):
    from lstmkit.data.audio import write_audio

    tone = np.sin(np.arange(4000) / 5).astype(np.float32)
    (tmp_path / "flat").mkdir()
    for name in ("seven.wav", "seven-2.wav", "thank_you.wav"):
        write_audio(tmp_path / "flat" / name, tone, 16000)
    assert read_corpus(str(tmp_path / "flat"), SpeechConfig()).transcripts == ["seven", "seven", "thank you"]
    (tmp_path / "commands" / "stop").mkdir(parents=True)
    write_audio(tmp_path / "commands" / "stop" / "x1.wav", tone, 16000)
    assert read_corpus(str(tmp_path / "commands"), SpeechConfig()).transcripts == ["stop"]


def test_asterisk_prompts_are_labelled_from_their_file_names(tmp_path):
    voice = tmp_path / "usr/share/asterisk/sounds/en_US_f_Allison"
    from lstmkit.tasks.speech.synth import LETTERS, NUMBER_WORDS
    for folder, names in (("digits", [f"{n}.wav" for n in NUMBER_WORDS]), ("letters", [f"{c}.wav" for c in LETTERS]),
                          ("phonetic", [f"{c}_p.wav" for c in LETTERS])):
        (voice / folder).mkdir(parents=True)
        for name in names:
            (voice / folder / name).write_bytes(b"")
    table = asterisk_prompts(tmp_path)
    assert len(table) == 80
    pairs = dict(zip(table["path"].map(lambda p: p.split("en_US_f_Allison/")[1]), table["transcript"]))
    assert pairs["digits/7.wav"] == "seven" and pairs["digits/40.wav"] == "forty"
    assert pairs["letters/q.wav"] == "q" and pairs["phonetic/x_p.wav"] == "xray"
    with pytest.raises(UserError, match="apt-get download asterisk-core-sounds-en-wav"):
        asterisk_prompts(tmp_path / "nowhere")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install "
                    "espeak-ng); the tone corpus tests cover the pipeline")
def test_a_tiny_espeak_corpus_trains(tmp_path):
    from lstmkit.tasks.speech.synth import synthesize_corpus

    table = synthesize_corpus(tmp_path / "c", ["one", "two", "three"], voices=16, seed=0)
    assert len(table) == 48 and table["speaker"].nunique() == 16
    app = SpeechRecognizer(SpeechConfig(**{**FAST, "task": "keywords", "epochs": 25, "test_fraction": 0.25})).fit(str(tmp_path / "c"))
    result = app.evaluate(str(tmp_path / "c"))
    assert result["split"]["by"] == "speaker" and result["split"]["files"] == 12  # 4 voices never heard
    assert result["model"]["accuracy"] >= 0.75  # chance is 1/3
