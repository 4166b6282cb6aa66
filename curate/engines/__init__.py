"""Where a build runs. `local` (default) is curate/build.py in this process; `ray` is
`ray_driver.py`: the same stage code on Ray Data. The engine never changes what a build writes."""
