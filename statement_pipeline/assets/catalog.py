"""What the asset catalog shows of every asset besides its description: who owns it."""

# The data team that runs the monthly import and answers for its figures (owners are user
# emails or `team:<name>`; the catalog filters and groups assets by them).
OWNERS = ["team:data-engineering"]
