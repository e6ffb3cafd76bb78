"""Bad config fails at validation with one message naming the key and the fix; the default passes."""

import pytest
from emobasis.config import ConfigError, concept_names, validate_config


def check(cfg, *fragments):
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, msg
    assert "Fix:" in msg, msg
    assert "\n" not in msg, "one message, one line"
    return msg


def test_default_config_is_valid(raw_config):
    cfg = validate_config(raw_config)
    assert cfg["study"]["suites"] == ["jailbreakbench", "xstest"]
    assert len(concept_names(cfg)) == 30  # 26 emotions + 4 controls
    assert all(m["trust_remote_code"] is False for m in cfg["models"])
    assert cfg["mirror"] is None


def test_unknown_top_level_key(raw_config):
    raw_config["modles"] = []
    check(raw_config, "unknown key 'modles'")


def test_unknown_nested_key(raw_config):
    raw_config["tone"]["treshold"] = 1.0
    check(raw_config, "unknown key 'tone.treshold'")


def test_missing_key(raw_config):
    del raw_config["seed"]
    check(raw_config, "missing key 'seed'")


def test_missing_nested_key(raw_config):
    del raw_config["models"][0]["sha256"]
    check(raw_config, "sha256")


def test_unknown_model_source(raw_config):
    raw_config["models"][1]["source"] = "s3"
    check(raw_config, "unknown model source 's3'", "models[1].source", "pypi, hub")


def test_duplicate_model_ids(raw_config):
    raw_config["models"][2]["id"] = raw_config["models"][0]["id"]
    check(raw_config, "duplicate model id 'smollm2-135m'")


def test_study_names_missing_suite(raw_config):
    raw_config["study"]["suites"].append("harmbench")
    check(raw_config, "suite 'harmbench'", "does not exist", "jailbreakbench, xstest")


def test_study_names_missing_stimulus_set(raw_config):
    raw_config["study"]["stimulus_sets"] = ["emotions", "personas"]
    check(raw_config, "stimulus set 'personas'", "does not exist")


def test_suite_names_missing_source(raw_config):
    raw_config["suites"]["xstest"]["source"] = "xstest_v3"
    check(raw_config, "source 'xstest_v3'", "does not exist")


@pytest.mark.parametrize("rank", [0, 31, -2])
def test_rank_outside_concepts(raw_config, rank):
    raw_config["basis"]["ranks"] = [5, rank]
    check(raw_config, f"basis.ranks[1] = {rank}", "1..30")


@pytest.mark.parametrize("depth", [0, 1.5, -0.25])
def test_layer_depth_outside_unit_interval(raw_config, depth):
    raw_config["extraction"]["layers"] = [0.5, depth]
    check(raw_config, "extraction.layers[1]", "outside (0, 1]")


def test_layer_depth_one_is_allowed(raw_config):
    raw_config["extraction"]["layers"] = [1.0]
    validate_config(raw_config)


def test_bad_sha256(raw_config):
    raw_config["sources"]["xstest"]["files"]["xstest_prompts.csv"] = "abc"
    check(raw_config, "sources.xstest.files", "not a sha256")


def test_hub_model_needs_pinned_revision(raw_config):
    raw_config["models"].append(
        {"id": "llama", "source": "hub", "repo": "meta-llama/Llama-2-7b-chat-hf", "revision": "main"}
    )
    check(raw_config, "models[3].revision", "40-hex")


def test_split_must_sum_to_one(raw_config):
    raw_config["split"]["test"] = 0.5
    check(raw_config, "split fractions sum to 1.3")


def test_unknown_control_concept(raw_config):
    raw_config["stimulus_sets"]["controls"]["concepts"].append("sarcasm")
    check(raw_config, "unknown control concept 'sarcasm'")


def test_emotion_spec_with_unknown_corpus(raw_config):
    raw_config["stimulus_sets"]["emotions"]["concepts"]["calm"] = ["isear:calm"]
    check(raw_config, "'isear:calm'", "goemotions, emorynlp")


@pytest.mark.parametrize(
    "key,value,where",
    [("rank", 21, "basis.ranks"), ("match_k", 33, "transfer.ks"), ("position", "response_first", "transfer.positions")],
)
def test_verdict_must_read_a_computed_cell(raw_config, key, value, where):
    if key == "position":
        raw_config["transfer"]["positions"] = ["prompt_last", "response_mean"]
    raw_config["verdict"][key] = value
    check(raw_config, f"verdict.{key}", where)


def test_verdict_rule_is_required(raw_config):
    del raw_config["verdict"]
    check(raw_config, "missing key 'verdict'")


def test_own_response_mode_needs_every_models_responder(raw_config):
    raw_config["study"]["reader_mode"] = "own_responses"
    check(raw_config, "model 'smollm2-135m' names no responder", "jailbreakbench, xstest", "models[].responders")


def test_own_response_mode_cannot_score_monitor_models(raw_config):
    raw_config["study"]["reader_mode"] = "own_responses"
    for m in raw_config["models"]:
        m["responders"] = {"jailbreakbench": "vicuna-13b-v1.5", "xstest": "gpt4"}
    raw_config["monitor_models"] = [dict(raw_config["models"][0], id="extra")]
    check(raw_config, "monitor_models cannot be scored in own_responses mode")


# --- the own-answer study (config/config.yaml; the fixtures above hold the reader study) ----------------


@pytest.fixture
def own_config():
    import copy

    import yaml
    from conftest import REPO

    return copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def test_own_answer_default_is_valid(own_config):
    cfg = validate_config(own_config)
    assert cfg["study"]["reader_mode"] == "own_answers"
    assert {cfg["suites"][s]["adapter"] for s in cfg["study"]["suites"]} == {"answers"}
    assert cfg["tone"]["weights"]["refusal"] == 0  # tone apart from refusal
    gemma = next(m for m in cfg["models"] if m["id"] == "gemma3-270m")
    assert "{prompt}" in gemma["plain_format"] and gemma["stop_strings"]


def test_own_answers_need_generation_and_judge_blocks(own_config):
    del own_config["judge"]
    check(own_config, "own_answers needs a 'judge' block")


def test_answers_suite_outside_own_answer_mode(own_config):
    own_config["study"]["reader_mode"] = "all_responses"
    check(own_config, "suite 'jailbreakbench' is an answers suite", "Fix: set study.reader_mode: own_answers")


def test_answers_suite_needs_prompts_and_known_sources(own_config):
    own_config["suites"]["xstest"]["prompts"][0]["source"] = "nowhere"
    check(own_config, "suites.xstest.prompts[0] names source 'nowhere'")
    del own_config["suites"]["xstest"]["prompts"]
    check(own_config, "prompts")


def test_reader_suite_in_an_own_answer_study(own_config, raw_config):
    own_config["suites"]["reader"] = raw_config["suites"]["xstest"]
    own_config["study"]["suites"].append("reader")
    check(own_config, "suite 'reader' holds other models' responses")


def test_judge_source_without_reader(own_config):
    own_config["judge"]["sources"]["mystery"] = "xstest"
    check(own_config, "judge.sources names 'mystery', which has no reader")


def test_plain_format_needs_a_prompt_placeholder(own_config):
    own_config["models"][1]["plain_format"] = "User: hello\nAssistant:"
    check(own_config, "plain_format")


def test_mismatch_formulas_must_name_the_studys_concepts(raw_config):
    cfg = raw_config
    cfg["transfer"]["mismatch"] = {"mismatch_caution": {"calm": 1.0, "harm_salience": -1.0, "bravado": 1.0}}
    with pytest.raises(ConfigError, match=r"transfer\.mismatch\.mismatch_caution weighs \['bravado'\].*Fix: use"):
        validate_config(cfg)
    cfg["transfer"]["mismatch"] = {"mismatch_other": {"calm": 1.0}}
    with pytest.raises(ConfigError, match="mismatch_other"):
        validate_config(cfg)


# --- issue 36, item 4: input that collapsed silently or named the wrong fix -------------------------------


@pytest.mark.parametrize(
    "path, value, fragment",
    [
        (("study", "suites"), ["jailbreakbench", "xstest", "jailbreakbench"], "'study.suites' lists 'jailbreakbench'"),
        (("transfer", "ks"), [0, 8, 8], "'transfer.ks' lists 8"),
        (("basis", "ranks"), [2, 4, 2], "'basis.ranks' lists 2"),
        (("transfer", "aligners"), ["gcca", "gcca"], "'transfer.aligners' lists 'gcca'"),
        (("transfer", "positions"), ["prompt_last", "prompt_last"], "'transfer.positions' lists 'prompt_last'"),
        (("extraction", "layers"), [0.5, 0.5], "'extraction.layers' lists 0.5"),
    ],
)
def test_duplicate_list_entries_are_refused(own_config, path, value, fragment):
    """Before: accepted and double-counted (a suite listed twice gave 250 'audited' answers per model, not 190)."""
    own_config[path[0]][path[1]] = value
    check(own_config, fragment, "more than once. Fix: list each value once")


def test_a_rank_above_the_concept_count_names_the_concepts_not_pca_dims(raw_config):
    """Before: 'raise pca_dims', though pca_dims (64) is above the 30 concepts that bound the rank."""
    raw_config["basis"]["ranks"] = [4, 1000]
    msg = check(raw_config, "basis.ranks[1] = 1000 is outside 1..30 (the number of concepts")
    assert "pca_dims" not in msg
    raw_config["basis"]["ranks"] = [4, 20]
    raw_config["transfer"]["pca_dims"] = 16
    check(raw_config, "basis.ranks[1] = 20 exceeds transfer.pca_dims = 16. Fix: raise transfer.pca_dims to 20")


def test_an_upper_case_revision_is_told_to_be_lower_case(raw_config):
    """Before: refused as 'not a pinned revision'."""
    rev = "ABCDEF0123456789ABCDEF0123456789ABCDEF01"
    raw_config["models"][0] = {"id": "hubby", "source": "hub", "repo": "org/model", "revision": rev}
    check(raw_config, "is a commit in upper case", f"Fix: write it in lower case: {rev.lower()}")


def test_a_model_id_with_a_slash_names_the_allowed_characters(raw_config):
    """Before: 'see the description of models[0].id in config/schema.yaml', which has none."""
    raw_config["models"][0]["id"] = "org/model"
    msg = check(raw_config, "'models[0].id' = 'org/model' is not a valid name", "e.g. 'org-model'")
    assert "description" not in msg


def test_empty_models_names_the_fix(raw_config):
    """Before: only '[] should be non-empty'."""
    raw_config["models"] = []
    check(raw_config, "'models' is empty. Fix: list at least 1 item(s)", "leave-one-model-out needs at least 3")


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"trust_remote_code": True}, "models[0].trust_remote_code applies to source hub and local only"),
        ({"repo": "org/model"}, "models[0].repo applies to source hub only"),
        ({"revision": "a" * 40}, "models[0].revision applies to source hub only"),
    ],
)
def test_an_option_a_pypi_model_ignores_is_refused(raw_config, extra, fragment):
    """Before: ignored silently (a pypi model is built from its package's files)."""
    assert raw_config["models"][0]["source"] == "pypi"
    raw_config["models"][0].update(extra)
    check(raw_config, fragment, "which ignores it. Fix: remove models[0].")
    raw_config["models"][0].update(trust_remote_code=False)  # the default, allowed everywhere
    if "trust_remote_code" in extra:
        validate_config(raw_config)


def test_hub_model_options_that_only_pypi_reads_are_refused(raw_config):
    raw_config["models"][0] = {"id": "h", "source": "hub", "repo": "o/m", "revision": "a" * 40, "sha256": "0" * 64}
    check(raw_config, "models[0].sha256 applies to source pypi and local only")


def test_a_missing_audit_file_is_a_config_error_naming_the_path(own_config):
    """Before: skipped silently (get_audit_inputs keeps only files that exist): the gate read 0 audited answers."""
    own_config["audit"]["labels"] = "config/audit/lables.csv"
    check(own_config, "audit.labels names 'config/audit/lables.csv', which does not exist", "audit.labels: []")
    own_config["audit"]["labels"] = []  # no answer audited yet
    own_config["audit"]["second_reads"] = ["config/audit/second_reads.csv", "config/audit/nope.csv"]
    check(own_config, "audit.second_reads names 'config/audit/nope.csv'")
    own_config["audit"]["second_reads"] = []
    validate_config(own_config)


def test_audit_sheets_are_checked_against_the_studys_suites(own_config):
    """Before: passed the dry run and failed only at audit_sheet, after all generation."""
    own_config["audit"]["sheets"][1]["suites"] = ["caution", "cautoin"]
    check(own_config, "audit.sheets[1].suites names ['cautoin'], which the study does not answer")
    own_config["audit"]["sheets"][1]["suites"] = ["caution"]
    own_config["study"]["suites"] = ["jailbreakbench", "xstest"]  # a study that drops caution drops its sheet too
    check(own_config, "audit.sheets[1].suites names ['caution']")


def test_audit_labels_of_models_the_study_does_not_run_are_refused(own_config):
    """Before: a study of other models that inherited the default's labels file failed only at label_validity,
    after all the generation (the GPU study did)."""
    own_config["models"] = [{**m, "id": f"other-{i}"} for i, m in enumerate(own_config["models"])]
    check(
        own_config,
        "audit.labels names 'labels.csv', which labels models the study does not run: ['gemma3-270m',",
        "Fix: give this study an audit.labels of its own",
    )
    own_config["audit"]["labels"] = []
    own_config["audit"]["second_reads"] = []
    validate_config(own_config)  # the study's own (empty) audit passes
