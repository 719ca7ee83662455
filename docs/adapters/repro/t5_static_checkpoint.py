# AdapterHub 1.3.0: a static T5ForConditionalGeneration (with an untied LM head) or T5ForQuestionAnswering checkpoint
# does not load as a T5AdapterModel (its documented conversion of static heads; T5AdapterModel offers seq2seq_lm and
# question_answering): transformers refuses the renamed state dict as corrupted (with tied embeddings the
# T5ForConditionalGeneration checkpoint loads)
import sys
import tempfile

import torch
from adapters import T5AdapterModel
from transformers import T5Config, T5ForConditionalGeneration, T5ForQuestionAnswering


config = T5Config(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=1, num_heads=4, tie_word_embeddings=False)
wrong = False
for cls in (T5ForConditionalGeneration, T5ForQuestionAnswering):
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        cls(config).save_pretrained(folder)
        try:
            model = T5AdapterModel.from_pretrained(folder)
            print(f"{cls.__name__}: loads, heads {list(model.heads)}")
        except ValueError as error:
            print(f"{cls.__name__}: ValueError: {error}")
            wrong = True
print("DEFECT" if wrong else "fixed")
sys.exit(1 if wrong else 0)
