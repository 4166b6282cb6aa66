"""zhtune trainer: TRL SFT/DPO with PEFT methods on a built version."""
